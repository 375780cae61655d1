"""SQL sources: a PostgreSQL table into DuckDB, against the COPY TO STDOUT reference, and the
peak memory of extracting 5 and 20 million rows.

    python -m bench.sql_sources --rows 5000000 --repeat 2 --scale-rows 5000000,20000000

Each measured step is its own child process (peak RSS from wait4(), as bench/measure.py does);
the approaches alternate (A B C A B C) so drift on a shared machine hits every ratio alike.

- ``ingestd``: ``extract`` (ADBC PostgreSQL driver, typed Arrow batches into Parquet) and then
  ``DataPlane.load`` with the Events mapping, as a query source's unit runs.
- ``ingestd-copy-csv``: the path ingestd had before: ``COPY (query) TO STDOUT (FORMAT csv)`` to
  a file, then ``DataPlane.load`` of the CSV (every value as text, typed by the mapping).
- ``reference``: the least work that yields the same table: psycopg streams ``COPY (query) TO
  STDOUT (FORMAT csv)`` to a file and DuckDB loads it with one ``INSERT ... SELECT`` doing the
  Events mapping (no validation, no accounting). DuckDB's ``postgres_scanner`` would be the other
  reference, but it is an extension DuckDB downloads, and this machine has no internet.

The scale check extracts ``generate_series`` results of each size (no table needed) and
reports the extracting process's peak RSS: it must not grow with the row count.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.dataset import DEFAULT_OUT, REPO_ROOT

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "ingestd_bench"
APPROACHES = ("ingestd", "ingestd-copy-csv", "reference")
EVENTS_MAPPING = {
    "unit_id": "user_id",
    "event_name": "event_name",
    "timestamp": "ts",
    "event_value": "value",
    "metadata_object": "meta",
    "ids": {"userID": "user_id"},
}
DAY = datetime.date(2024, 3, 1)


def source_sql(rows: int) -> str:
    """Events-shaped rows from generate_series: text, bigint epoch seconds, numeric, jsonb."""
    return (
        "SELECT 'user_' || (i % 100000) AS user_id, "
        "(ARRAY['view', 'click', 'buy', 'share'])[1 + i % 4] AS event_name, "
        "1709251200 + i % 86400 AS ts, round((i % 1000) / 7.0, 2) AS value, "
        "jsonb_build_object('k', i % 10, 'p', 'x' || (i % 97)) AS meta, "
        f"DATE '2024-03-01' AS ds FROM generate_series(1, {rows}) AS i"
    )


def ensure_table(rows: int) -> str:
    """The table ``events_<rows>`` in the bench database, created once (UNLOGGED)."""
    import psycopg

    table = f"events_{rows}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
            is None
        ):
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    with psycopg.connect(database_url(), autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", [table]).fetchone()
        if exists is None or exists[0] is None:
            print(f"creating {table} ...", flush=True)
            conn.execute(f"CREATE UNLOGGED TABLE {table} AS {source_sql(rows)}")
            conn.execute(f"ANALYZE {table}")
    return table


def database_url() -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE


# -- children ---------------------------------------------------------------------------------


def _plane(work: Path) -> Any:
    from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
    from ingestd.dataplane.pipeline import DataPlane

    warehouse = DuckDBDestination(
        work / "bench.duckdb", memory_limit="1GB", spill_dir=work / "spill"
    )
    return warehouse, DataPlane(warehouse, work / "staging")


def _load(work: Path, path: Path, fmt: str) -> dict[str, Any]:
    from ingestd.dataplane.contract import LoadRequest
    from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
    from ingestd.domain.sources import DataFormat, ReadOptions

    warehouse, plane = _plane(work)
    try:
        request = LoadRequest(
            "bench:1",
            "u1",
            "r1",
            DATASET_TABLES["events"].in_project("bench"),
            mapping_from_column_mapping("Events", EVENTS_MAPPING),
            (path,),
            (path.name,),
            ReadOptions(format=DataFormat(fmt)),
            day=DAY,
        )
        counts = plane.load(request).counts
        (inserted,) = warehouse.query("SELECT count(*) FROM bench__statsig.events")[0]
    finally:
        warehouse.close()
    return {"inserted": int(inserted), "counts": asdict(counts)}


def _copy_csv(query: str, target: Path) -> None:
    import psycopg

    with psycopg.connect(database_url()) as conn, target.open("wb") as out:
        statement = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with conn.cursor().copy(statement) as copy:
            for chunk in copy:
                out.write(chunk)


def _reference_load(work: Path, csv_path: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(work / "bench.duckdb"))
    try:
        con.execute("SET memory_limit = '1GB'")
        con.execute(f"SET temp_directory = '{work / 'spill'}'")
        con.execute(
            "CREATE SCHEMA statsig; CREATE TABLE statsig.events (unit_id VARCHAR, "
            'event_name VARCHAR, "timestamp" BIGINT, ids JSON, metadata JSON, '
            "metadata_object JSON, event_value VARCHAR, _ingestd_load_key VARCHAR, "
            "_ingestd_day DATE)"
        )
        con.execute(
            "INSERT INTO statsig.events SELECT user_id, event_name, ts, "
            "json_object('userID', user_id), NULL, CAST(meta AS JSON), CAST(value AS VARCHAR), "
            f"'bench:1', DATE '{DAY}' FROM read_csv('{csv_path}', header = true)"
        )
        row = con.execute("SELECT count(*) FROM statsig.events").fetchone()
    finally:
        con.close()
    assert row is not None
    return {"inserted": int(row[0])}


def child(approach: str, query: str, work: Path) -> dict[str, Any]:
    """One measured step; returns its phases' seconds and what it loaded."""
    import ipaddress

    from ingestd.dataplane.blobs.egress import EgressPolicy
    from ingestd.dataplane.sql import extract
    from ingestd.domain.file_access import NO_FILES

    started = time.perf_counter()
    out: dict[str, Any] = {}
    if approach in ("ingestd", "extract"):
        config = {"host": "127.0.0.1", "port": 5432, "dbname": DATABASE, "user": "postgres"}
        # The server is on loopback, which the default egress policy refuses.
        loopback = EgressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
        staged = extract(
            "postgres", "bench", config, {}, query, work / "extract", NO_FILES, egress=loopback
        )
        out["staged_bytes"] = staged.path.stat().st_size
        out["extract_seconds"] = time.perf_counter() - started
        if approach == "ingestd":
            out.update(_load(work, staged.path, staged.format.value))
    elif approach == "ingestd-copy-csv":
        target = work / "result.csv"
        _copy_csv(query, target)
        out["staged_bytes"] = target.stat().st_size
        out["extract_seconds"] = time.perf_counter() - started
        out.update(_load(work, target, "csv"))
    elif approach == "reference":
        target = work / "result.csv"
        _copy_csv(query, target)
        out["staged_bytes"] = target.stat().st_size
        out["extract_seconds"] = time.perf_counter() - started
        out.update(_reference_load(work, target))
    else:
        raise SystemExit(f"unknown approach {approach}")
    out["seconds"] = time.perf_counter() - started
    return out


# -- parent -----------------------------------------------------------------------------------


@dataclass
class Measured:
    approach: str
    rows: int
    rep: int
    process_seconds: float
    peak_rss_mib: float
    cpu_seconds: float
    """The child's user + system CPU seconds (wait4()): steadier than wall time on a shared
    machine."""
    report: dict[str, Any] = field(default_factory=dict)


def measure(approach: str, query: str, rows: int, rep: int, scratch: Path) -> Measured:
    work = scratch / f"{approach}-{rows}-{rep}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result = work / "result.json"
    command = [
        sys.executable,
        "-m",
        "bench.sql_sources",
        "--child",
        approach,
        "--query",
        query,
        "--work",
        str(work),
        "--result",
        str(result),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO_ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{approach} failed with exit code {process.returncode}")
    report = json.loads(result.read_text())
    shutil.rmtree(work, ignore_errors=True)
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(approach, rows, rep, seconds, usage.ru_maxrss / 1024, cpu, report)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--approaches", default=",".join(APPROACHES))
    parser.add_argument("--scale-rows", default="5000000,20000000")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--query", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.result.write_text(json.dumps(child(args.child, args.query, args.work)))
        return

    scratch = args.out / "work" / "sql"
    results: list[Measured] = []
    approaches = [a for a in args.approaches.split(",") if a]
    if approaches:
        table = ensure_table(args.rows)
        for rep in range(args.repeat):
            for approach in approaches:
                m = measure(approach, f"SELECT * FROM {table}", args.rows, rep, scratch)
                results.append(m)
                print(
                    f"{approach:18} rep {rep}: {m.process_seconds:6.1f} s "
                    f"(CPU {m.cpu_seconds:5.1f} s) "
                    f"(extract {m.report['extract_seconds']:.1f} s), "
                    f"peak {m.peak_rss_mib:6.0f} MiB, inserted {m.report.get('inserted')}, "
                    f"staged {m.report['staged_bytes'] / 2**20:.0f} MiB",
                    flush=True,
                )
    scale = []
    for rows in [int(r) for r in args.scale_rows.split(",") if r]:
        m = measure("extract", source_sql(rows), rows, 0, scratch)
        scale.append(m)
        print(
            f"extract {rows:>10,} rows: {m.process_seconds:6.1f} s, peak {m.peak_rss_mib:5.0f} MiB",
            flush=True,
        )

    print("\nmedian seconds, ratio to the reference (lower is faster), peak RSS")
    reference = _median([m.process_seconds for m in results if m.approach == "reference"])
    for approach in approaches:
        mine = [m for m in results if m.approach == approach]
        seconds = _median([m.process_seconds for m in mine])
        extract_s = _median([m.report["extract_seconds"] for m in mine])
        peak = max(m.peak_rss_mib for m in mine)
        print(
            f"  {approach:18} {seconds:6.1f} s  x{seconds / reference:4.2f}  "
            f"(extract {extract_s:5.1f} s)  peak {peak:5.0f} MiB"
        )
    if "reference" in approaches:
        print("\nthroughput against the reference, paired per repetition (reference s / its s)")
    for approach in approaches:
        if approach == "reference" or "reference" not in approaches:
            continue  # nothing to pair with (--approaches without the reference: memory runs)
        wall, cpu = [], []
        for rep in range(args.repeat):
            [own] = [m for m in results if m.approach == approach and m.rep == rep]
            [ref] = [m for m in results if m.approach == "reference" and m.rep == rep]
            wall.append(ref.process_seconds / own.process_seconds)
            cpu.append(ref.cpu_seconds / own.cpu_seconds)
        print(
            f"  {approach:18} x{_median(wall):4.2f} wall ({', '.join(f'{r:.2f}' for r in wall)}), "
            f"x{_median(cpu):4.2f} CPU ({', '.join(f'{r:.2f}' for r in cpu)})"
        )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"sql-sources-{stamp}.json"
    target.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "runs": [asdict(m) for m in results],
                "scale": [asdict(m) for m in scale],
            },
            indent=2,
        )
    )
    print(f"\nwritten to {target}")


if __name__ == "__main__":
    main()
