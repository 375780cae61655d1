"""CSV against binary COPY of the same mapped Events rows, measured by the COPY backend's CPU.

    python -m bench.pg_copy_formats --rows 1000000 --repeat 2

Needs ``bench/out/events-5000000.mapped.csv`` (``bench.pg_destination`` makes it). Loads the
first ``--rows`` rows into an in-memory DuckDB table with the Events table's types, then COPYs
them with ``destinations.postgres.copy.copy_in`` into a scratch database (created and
dropped here), once with the column types (binary) and once without (CSV), alternating. Reports
wall seconds, the
backend's CPU (``/proc/<pid>/stat`` of the connection's backend: other clients of the server
do not count) and this process's CPU.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from bench.dataset import DEFAULT_OUT
from bench.pg_destination import _CLOCK_TICKS, ADMIN_URL, _cpu_ticks
from ingestd.dataplane.destinations.postgres import copy as postgres_copy

COLUMNS = (
    ("unit_id", "VARCHAR", "text"),
    ("event_name", "VARCHAR", "text"),
    ('"timestamp"', "BIGINT", "bigint"),
    ("ids", "JSON", "jsonb"),
    ("metadata", "JSON", "jsonb"),
    ("metadata_object", "JSON", "jsonb"),
    ("event_value", "VARCHAR", "text"),
    ("_ingestd_load_key", "VARCHAR", "text"),
    ("_ingestd_day", "DATE", "date"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--mapped", type=Path, default=DEFAULT_OUT / "events-5000000.mapped.csv")
    args = parser.parse_args()
    duck = duckdb.connect()
    typed = ", ".join(f"CAST(column{i} AS {t}) AS {n}" for i, (n, t, _) in enumerate(COLUMNS))
    duck.execute(
        f"CREATE TABLE m AS SELECT {typed} FROM read_csv('{args.mapped}', header = false, "
        f"all_varchar = true) LIMIT {int(args.rows)}"
    )
    database = f"ingestd_copy_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    table = ", ".join(f"{n} {pg}" for n, _, pg in COLUMNS)
    try:
        for rep in range(args.repeat):
            for binary in (True, False) if rep % 2 == 0 else (False, True):
                url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{database}"
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"DROP TABLE IF EXISTS e; CREATE TABLE e ({table})")
                    conn.execute("CHECKPOINT")
                    backend = conn.info.backend_pid
                    server, wall, client = (
                        _cpu_ticks(backend)[1],
                        time.perf_counter(),
                        time.process_time(),
                    )
                    with conn.transaction(), conn.cursor() as cur:
                        types: list[str | None] = [pg for _, _, pg in COLUMNS]
                        rows = postgres_copy.copy_in(
                            duck.cursor(),
                            "SELECT * FROM m",
                            cur,
                            sql.SQL("e"),
                            lambda _: None,
                            pg_types=types if binary else None,
                        )
                    print(
                        f"{'binary' if binary else 'csv':7} rep {rep}: "
                        f"{time.perf_counter() - wall:6.2f} s wall, server "
                        f"{(_cpu_ticks(backend)[1] - server) / _CLOCK_TICKS:6.2f} s, client "
                        f"{time.process_time() - client:5.2f} s CPU, {rows:,} rows",
                        flush=True,
                    )
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
