"""Scale-out: the same files through 1, 2, 4 ``ingestd worker`` processes and one local ``serve``.

    python -m bench.scaling --rows 1000000 --files 16 --workers 1,2,4 --repeat 2
    python -m bench.scaling                      # a smoke run: 4 files of 100,000 rows

Each configuration gets fresh metadata and destination databases on the local PostgreSQL and
its own processes (``bench.cluster``): ``workers-N`` is one ``ingestd serve`` with
INGESTD_EXECUTOR=celery dispatching to N ``ingestd worker --concurrency 1`` through a
redis-server of the run's own; ``local`` is one ``ingestd serve`` running units on its own pool
(INGESTD_EXECUTOR=local, INGESTD_WORKERS=1), PostgreSQL for metadata and destination alike.
Each process has a data directory of its own: the files reach them as Kusto queued ingestions
(one ``POST /v1/rest/ingestion/queued/<db>/<table>`` per file) of CSV blobs on a loopback HTTP
server, so every worker downloads and stages what it loads. Configurations alternate per
repetition (A B C D, then D C B A) so drift hits every side of a ratio.

Reported per configuration (medians over repetitions):

- **rows/s**: rows in the files / wall seconds from the first POST to the last unit's end
  (``units.ended_at``); **x 1 worker**: ``workers-1 seconds / these seconds`` per repetition,
  then the median.
- **CPU**: the ingestd processes' own (serve and workers, ``/proc/<pid>/stat``), the
  destination's backends' (the COPYs) and the metadata database's backends', all from the first
  POST on; **us/row** is their sum per row loaded into the destination.
- **peak RSS**: each process's VmHWM (a worker's, or the local serve's).
- **where the time goes**, per unit from the metadata database: claim wait (``started_at -
  created_at``: in the queue until a worker claims it), download (``started`` to ``loading``
  in the unit's status history: the blob fetched and staged) and load (``loading`` to the end:
  read, validate, COPY, commit); **busy** = the units' download + load seconds / (wall x
  workers): how much of the time the workers had a unit in hand; **lock**: the share of those
  seconds the units' destination connections spent waiting for the table's write lock (a
  transaction-scoped advisory lock each append takes before its COPY, so loads into one table
  write one at a time), sampled from ``pg_stat_activity``. ``--tables N`` spreads the files over
  N tables (file n into table n mod N) to show what parallel COPYs give.

Every 1,000th row has a non-numeric amount (quarantined), so a correct configuration loads
``rows x files - quarantined`` rows, checked against the destination's table. Results: the
console and ``bench/out/scaling-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.cluster import ADMIN_URL, CostSampler, Deployment, FileServer, RedisServer, deployment
from bench.cluster import execute as sql
from bench.dataset import DEFAULT_OUT

DATABASE = "sales"
TABLE = "Orders"
BAD_EVERY = 1_000
"""Row ids with id % BAD_EVERY == BAD_EVERY - 1 have amount 'n/a' (quarantined)."""
TERMINAL = ("succeeded", "failed", "canceled", "skipped")


def input_file(folder: Path, rows: int, n: int) -> Path:
    return folder / f"orders-{rows}-{n}.csv"


def bad_rows(first: int, rows: int) -> int:
    """Ids in [first, first + rows) whose amount is 'n/a'."""

    def below(end: int) -> int:  # ids in [0, end) with id % BAD_EVERY == BAD_EVERY - 1
        return end // BAD_EVERY

    return below(first + rows) - below(first)


def write_inputs(folder: Path, rows: int, files: int) -> list[Path]:
    """``files`` CSV files of ``rows`` rows (id, customer, amount), ids running on across
    files; written once by DuckDB, reused by later runs."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(files):
        target = input_file(folder, rows, n)
        if not target.exists():
            first, partial = n * rows, target.with_suffix(".partial")
            with duckdb.connect() as con:
                con.execute(
                    f"COPY (SELECT i AS id, 'customer-' || (i % 97) AS customer, "
                    f"CASE WHEN i % {BAD_EVERY} = {BAD_EVERY - 1} THEN 'n/a' "
                    f"ELSE (i % 1000)::VARCHAR || '.25' END AS amount "
                    f"FROM range({first}, {first + rows}) t(i) ORDER BY i) "
                    f"TO '{partial}' (FORMAT csv, HEADER false)"
                )
            partial.rename(target)
        made.append(target)
    return made


@dataclass
class UnitTimes:
    claim_wait: float
    download: float
    load: float


@dataclass
class Result:
    config: str
    rep: int
    ok: bool
    wall_seconds: float = 0.0
    rows_loaded: int = 0
    quarantined: int = 0
    read: int = 0
    failed_units: int = 0
    process_cpu_seconds: dict[str, float] = field(default_factory=dict)
    destination_cpu_seconds: float = 0.0
    destination_cpu_by_process: dict[str, float] = field(default_factory=dict)
    metadata_cpu_seconds: float = 0.0
    lock_wait_seconds: float = 0.0
    """Summed over the destination's backends: waiting for a table's write lock."""
    peak_rss_kib: dict[str, int] = field(default_factory=dict)
    units: list[UnitTimes] = field(default_factory=list)
    error: str = ""

    @property
    def ingestd_cpu_seconds(self) -> float:
        return sum(self.process_cpu_seconds.values())

    @property
    def total_cpu_seconds(self) -> float:
        return self.ingestd_cpu_seconds + self.destination_cpu_seconds + self.metadata_cpu_seconds


def _workers_of(config: str) -> int:
    return 0 if config == "local" else int(config.removeprefix("workers-"))


def _unit_times(metadata_url: str) -> list[UnitTimes]:
    rows = sql(
        metadata_url,
        "SELECT u.created_at, u.started_at, u.ended_at, "
        "(SELECT max(h.at) FROM status_history h WHERE h.unit_id = u.id "
        " AND h.state = 'started'), "
        "(SELECT max(h.at) FROM status_history h WHERE h.unit_id = u.id "
        " AND h.state = 'loading') "
        "FROM units u WHERE u.state = 'succeeded'",
    )
    times = []
    for created, started, ended, started_event, loading in rows:
        began = started_event or started
        loading = loading or began
        times.append(
            UnitTimes(
                claim_wait=(started - created).total_seconds(),
                download=(loading - began).total_seconds(),
                load=(ended - loading).total_seconds(),
            )
        )
    return times


def table_names(tables: int) -> list[str]:
    return [TABLE] if tables == 1 else [f"{TABLE}{k}" for k in range(tables)]


def _destination_rows(url: str, tables: int) -> int:
    """Rows in the destination's tables, all ``tables`` of them there, else 0."""
    total = 0
    for table in table_names(tables):
        found = sql(
            url,
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE lower(table_name) = lower(%s) AND table_schema NOT LIKE '\\_%%'",
            (table,),
        )
        if len(found) != 1:
            return 0
        schema, name = found[0]
        total += int(sql(url, f'SELECT count(*) FROM "{schema}"."{name}"')[0][0])
    return total


def _wait_until_done(made: Deployment, units: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done, total = sql(
            made.metadata_url,
            "SELECT count(*) FILTER (WHERE state = ANY(%s)), count(*) FROM units",
            (list(TERMINAL),),
        )[0]
        if total == units and done == units:
            return
        dead = [p for p in made.processes() if not p.alive()]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.role}\n{p.tail()}" for p in made.processes())
            raise RuntimeError(f"{done} of {units} units ended:\n{logs}")
        time.sleep(0.25)


def run_one(
    config: str,
    rep: int,
    urls: list[str],
    rows: int,
    work: Path,
    redis: RedisServer,
    admin_url: str,
    tables: int = 1,
) -> Result:
    import httpx

    workers = _workers_of(config)
    executor = "celery" if workers else "local"
    broker = redis.url if workers else None
    result = Result(config, rep, ok=False)
    root = work / f"{config}-rep{rep}"
    with deployment(root, executor, broker, workers, admin_url) as made:
        key = made.cli("keys", "create", "--project", "bench", "--kind", "console")
        headers = {"Authorization": f"Bearer {key.strip().splitlines()[-1]}"}
        with httpx.Client(base_url=made.url, headers=headers, timeout=60) as client:
            names = table_names(tables)
            for table in names:
                created = client.post(
                    "/v1/rest/mgmt",
                    json={
                        "db": DATABASE,
                        "csl": f".create table {table} (id:long, customer:string, amount:real)",
                    },
                )
                created.raise_for_status()
            roles = {p.pid: p.role for p in made.processes()}
            databases = {"destination": made.destination_url, "metadata": made.metadata_url}
            with CostSampler(roles, databases) as costs:
                first_post = time.time()
                for n, url in enumerate(urls):
                    response = client.post(
                        f"/v1/rest/ingestion/queued/{DATABASE}/{names[n % len(names)]}",
                        json={"blobs": [{"url": url}], "properties": {"format": "csv"}},
                    )
                    response.raise_for_status()
                # Generous: 2,000 rows/s would be twenty times slower than one worker here.
                _wait_until_done(made, len(urls), timeout=120 + rows * len(urls) / 2_000)
        result.peak_rss_kib = {p.role: p.peak_rss_kib() for p in made.processes()}
        result.process_cpu_seconds = costs.process_seconds()
        result.destination_cpu_seconds = costs.backend_seconds("destination")
        result.destination_cpu_by_process = costs.destination_seconds_by_role()
        result.metadata_cpu_seconds = costs.backend_seconds("metadata")
        result.lock_wait_seconds = costs.lock_wait_seconds
        last_end, failed, read, errors = sql(
            made.metadata_url,
            "SELECT max(ended_at), count(*) FILTER (WHERE state <> 'succeeded'), "
            "coalesce(sum(read), 0), coalesce(sum(errors), 0) FROM units",
        )[0]
        result.wall_seconds = last_end.timestamp() - first_post
        result.failed_units, result.read, result.quarantined = int(failed), int(read), int(errors)
        result.units = _unit_times(made.metadata_url)
        result.rows_loaded = _destination_rows(made.destination_url, tables)
        result.ok = result.failed_units == 0
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(results: list[Result], rows: int, files: int, configs: list[str]) -> dict[str, Any]:
    expected_bad = sum(bad_rows(n * rows, rows) for n in range(files))
    total = rows * files
    reference = next((c for c in configs if c == "workers-1"), configs[0])
    summary: dict[str, Any] = {"expected_quarantined": expected_bad, "reference": reference}
    for config in configs:
        ok = [r for r in results if r.config == config and r.ok]
        ratios = []
        for r in ok:
            pair = next((p for p in results if p.rep == r.rep and p.config == reference), None)
            if pair is not None and pair.ok:
                ratios.append(pair.wall_seconds / r.wall_seconds)
        slots = max(_workers_of(config), 1)
        units = [u for r in ok for u in r.units]
        busy = [sum(u.download + u.load for u in r.units) / (r.wall_seconds * slots) for r in ok]
        # The processes that run units: the workers, or the local serve's pool.
        loader = "serve" if config == "local" else "worker-"
        worker_rss = [kib for r in ok for role, kib in r.peak_rss_kib.items() if loader in role]
        seconds = _median([r.wall_seconds for r in ok])
        summary[config] = {
            "runs": len(ok),
            "wall_seconds": seconds,
            "rows_per_second": total / seconds if ok else 0.0,
            "x_one_worker": {"median": _median(ratios), "per_rep": ratios},
            "ingestd_cpu_seconds": _median([r.ingestd_cpu_seconds for r in ok]),
            "serve_cpu_seconds": _median([r.process_cpu_seconds.get("serve", 0.0) for r in ok]),
            "destination_cpu_seconds": _median([r.destination_cpu_seconds for r in ok]),
            "metadata_cpu_seconds": _median([r.metadata_cpu_seconds for r in ok]),
            "total_cpu_seconds": _median([r.total_cpu_seconds for r in ok]),
            "cpu_us_per_row": _median(
                [r.total_cpu_seconds / max(r.rows_loaded, 1) * 1e6 for r in ok]
            ),
            "cpu_cores_busy": _median([r.total_cpu_seconds / r.wall_seconds for r in ok]),
            "peak_rss_mib_per_worker": max(worker_rss, default=0) / 1024,
            "claim_wait_seconds": {
                "median": _median([u.claim_wait for u in units]),
                "max": max((u.claim_wait for u in units), default=0.0),
            },
            "download_seconds_median": _median([u.download for u in units]),
            "load_seconds_median": _median([u.load for u in units]),
            "busy": _median(busy),
            "lock_wait_seconds": _median([r.lock_wait_seconds for r in ok]),
            "lock_wait_share": _median(
                [
                    r.lock_wait_seconds / max(sum(u.download + u.load for u in r.units), 1e-9)
                    for r in ok
                ]
            ),
            "loaded_ok": bool(ok)
            and all(
                r.read == total
                and r.quarantined == expected_bad
                and r.rows_loaded == total - r.quarantined
                for r in ok
            ),
        }
    return summary


def print_table(
    summary: dict[str, Any], configs: list[str], rows: int, files: int, tables: int
) -> None:
    reps = max(summary[c]["runs"] for c in configs)
    print(
        f"\n{files} files x {rows:,} rows into {tables} PostgreSQL table(s), medians over "
        f"{reps} repetition(s)"
    )
    print(
        f"{'config':10} {'wall s':>7} {'rows/s':>9} {'x 1w':>5} {'ingestd':>8} {'dest':>6} "
        f"{'meta':>6} {'us/row':>7} {'cores':>5} {'RSS/w':>8} {'claim':>6} {'downl':>6} "
        f"{'load':>6} {'busy':>5} {'lock':>5} {'rows'}"
    )
    for config in configs:
        s = summary[config]
        print(
            f"{config:10} {s['wall_seconds']:7.1f} {s['rows_per_second']:9,.0f} "
            f"{s['x_one_worker']['median']:5.2f} {s['ingestd_cpu_seconds']:8.1f} "
            f"{s['destination_cpu_seconds']:6.1f} {s['metadata_cpu_seconds']:6.1f} "
            f"{s['cpu_us_per_row']:7.2f} {s['cpu_cores_busy']:5.2f} "
            f"{s['peak_rss_mib_per_worker']:5,.0f} MiB {s['claim_wait_seconds']['median']:6.1f} "
            f"{s['download_seconds_median']:6.1f} {s['load_seconds_median']:6.1f} "
            f"{s['busy']:5.2f} {s['lock_wait_share']:5.2f} {'ok' if s['loaded_ok'] else 'MISMATCH'}"
        )
    print(
        "(CPU seconds: ingestd = serve + workers, dest/meta = the PostgreSQL backends of the "
        "destination and metadata databases; us/row = all three per row loaded; cores = all "
        "three / wall; claim, download, load: median seconds per unit; busy = units' download "
        "+ load seconds / (wall x workers); lock = the share of those seconds spent waiting "
        "for a table's write lock, held by another unit's COPY)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--no-local", action="store_true", help="leave the local serve out")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--tables",
        type=int,
        default=1,
        help="spread the files over this many tables (file n into table n %% tables): loads "
        "into one table take its write lock in turn, loads into different ones do not",
    )
    parser.add_argument("--admin-url", default=ADMIN_URL, help="a database to create them from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    configs = [f"workers-{int(n)}" for n in args.workers.split(",") if n.strip()]
    if not args.no_local:
        configs.append("local")
    paths = write_inputs(args.out / "scaling", args.rows, args.files)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    work = args.out / "work" / f"scaling-{stamp}"
    load_before = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
    files = FileServer(paths[0].parent)
    redis = RedisServer(work / "redis")
    results: list[Result] = []
    try:
        urls = [files.url(p.name) for p in paths]
        for rep in range(args.repeat):
            for config in configs if rep % 2 == 0 else configs[::-1]:
                try:
                    result = run_one(
                        config, rep, urls, args.rows, work, redis, args.admin_url, args.tables
                    )
                except RuntimeError as exc:
                    result = Result(config, rep, ok=False, error=str(exc))
                results.append(result)
                print(
                    f"  {config:10} rep {rep}: "
                    + (
                        f"{result.wall_seconds:7.1f} s, {result.total_cpu_seconds:6.1f} s CPU, "
                        f"{result.rows_loaded:,} rows"
                        if result.ok
                        else f"FAILED: {result.error[-2000:]}"
                    ),
                    flush=True,
                )
    finally:
        redis.stop()
        files.stop()
    load_after = os.getloadavg()
    summary = summarize(results, args.rows, args.files, configs)
    print_table(summary, configs, args.rows, args.files, args.tables)
    print(f"load average before: {load_before[0]:.2f}, after: {load_after[0]:.2f} (1 min)")
    out = args.out / f"scaling-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "files": args.files,
                "tables": args.tables,
                "configs": configs,
                "cores": os.cpu_count(),
                "load_average": {"before": load_before, "after": load_after},
                "summary": summary,
                "runs": [
                    {
                        **asdict(r),
                        "ingestd_cpu_seconds": r.ingestd_cpu_seconds,
                        "total_cpu_seconds": r.total_cpu_seconds,
                    }
                    for r in results
                ],
            },
            indent=2,
        )
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
