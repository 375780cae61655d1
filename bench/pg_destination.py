"""ingestd into the PostgreSQL destination against psql's ``\\copy`` of the same CSV, same run.

    python -m bench.pg_destination --rows 5000000 --repeat 2

Each load is a child process (wall time of the whole process, peak RSS from ``wait4()``, as in
``bench.measure``) into a scratch database that is created for the run and dropped after it;
the target tables are dropped and the server checkpointed before every load, and repetitions
alternate the two (A B, then B A) so drift hits both sides of a ratio.

- ``ingestd``: ``DataPlane.load`` with the Events mapping into ``PostgresDestination``: reading,
  validation, dedupe and counting in DuckDB, then COPY into ``bench__statsig.events`` (9 columns,
  three of them jsonb, plus the index on the load key), the quarantine and the ledger, one commit.
- ``psql``: ``\\copy ref.events FROM 'file' (FORMAT csv, HEADER true)`` into a table shaped like
  the file (user_id, event_name, ts, value as text, meta as jsonb): PostgreSQL's own bulk load,
  no validation, no dedupe, nothing counted. It is the floor, and does less: its table has one
  jsonb column, no index and keeps the bad and duplicate rows.
- ``psql-mapped``: ``\\copy`` of the rows ingestd ends up writing (mapped, bad rows and
  duplicates left out by DuckDB beforehand, untimed) into a table shaped like ``statsig.events``
  with the same BRIN index: what PostgreSQL alone needs for ingestd's table, so the difference
  to ``ingestd`` is ingestd's own work (reading, validation, dedupe, counting, streaming).

Peak RSS is the client's. CPU seconds are the client's (``wait4()``) and, when the server runs
on this machine, the server's: the CPU of the load's own backends (those connected to the
scratch database), sampled from ``/proc`` while it runs (``BackendSampler``), so other clients
of a shared server do not count; the whole server's total during the load (which counts them)
is kept as ``server_cpu_seconds``. psql does
almost nothing itself, so only client + server CPU compares like with like, and it is what
stays meaningful when other work shares the cores. ``ingestd x`` is
``reference seconds / ingestd seconds`` per repetition, then the median (above 1: ingestd is
faster); ``ingestd x CPU`` the same on client + server CPU seconds.
Results go to the console and to ``bench/out/pg-destination-<timestamp>.json``.
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
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.child import vm_hwm_kib
from bench.dataset import DEFAULT_OUT, REPO_ROOT, Manifest, data_file, manifest_file
from bench.job import DAY, EVENTS_MAPPING, LOAD_KEY

PROJECT = "bench"
INGESTD_SCHEMA = f"{PROJECT}__statsig"
"""Where ingestd keeps the project's Events table (``physical_names.physical_schema``)."""

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
APPROACHES = ("ingestd", "psql", "psql-mapped")
REFERENCES = APPROACHES[1:]
_REFERENCE_TABLES = """
CREATE SCHEMA ref;
CREATE TABLE ref.events (user_id text, event_name text, ts text, value text, meta jsonb);
CREATE TABLE ref.events_mapped (
    unit_id text, event_name text, "timestamp" bigint, ids jsonb, metadata jsonb,
    metadata_object jsonb, event_value text, _ingestd_load_key text, _ingestd_day date
);
CREATE INDEX ON ref.events_mapped USING brin (_ingestd_load_key) WITH (autosummarize = on);
"""


def write_mapped(source: Path, target: Path) -> None:
    """The rows an Events load of ``source`` writes, as CSV in ``statsig.events`` order (DuckDB,
    with bench.approaches.duckdb_native's mapping and filters)."""
    import duckdb

    from bench.approaches.duckdb_native import insert_sql

    select = insert_sql("csv", str(source)).split("INSERT INTO statsig.events", 1)[1]
    with duckdb.connect() as con:
        con.execute(f"COPY ({select}) TO '{target}' (FORMAT csv, HEADER false)")


@dataclass
class Run:
    approach: str
    rep: int
    ok: bool
    seconds: float
    cpu_seconds: float
    peak_rss_kib: int
    server_cpu_seconds: float | None = None
    backend_cpu_seconds: float = 0.0
    """The load's own backends' CPU (``BackendSampler``), whoever else uses the server."""
    rows_in_table: int = 0
    load_seconds: float = 0.0
    staging_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    log: str = ""


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _execute(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> tuple[int, int]:
    """(parent pid, utime + stime + cutime + cstime) of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(f) for f in fields[11:15])


def server_cpu_seconds(url: str) -> float | None:
    """CPU seconds the PostgreSQL server at ``url`` has used so far, if it runs on this
    machine: the postmaster and its live children, plus its exited children (their time is
    in the postmaster's cutime/cstime once reaped). None when /proc does not show it."""
    import psycopg

    try:
        # The backend's parent is the postmaster; read while the backend still exists.
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            postmaster = _cpu_ticks(conn.info.backend_pid)[0]
        ticks = _cpu_ticks(postmaster)[1]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent, used = _cpu_ticks(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue  # exited meanwhile
            if parent == postmaster:
                ticks += used
    except (OSError, ValueError, IndexError):
        return None
    return ticks / _CLOCK_TICKS


class BackendSampler:
    """The CPU of this database's backends only, sampled from /proc every 50 ms while a load
    runs: on a server that other clients use too (test suites of parallel sessions), the
    postmaster's totals count their work. A backend's last 50 ms may be missed; it is read
    once more when the load's process has exited, if it is still there."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, conn: Any) -> None:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchall()
        for (pid,) in pids:
            try:
                self.ticks[pid] = max(self.ticks.get(pid, 0), _cpu_ticks(pid)[1])
            except (OSError, ValueError, IndexError):
                continue  # exited meanwhile

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(_libpq(self.url), autocommit=True) as conn:
            while not self._stop.is_set():
                self._sample(conn)
                self._stop.wait(0.05)
            self._sample(conn)

    def __enter__(self) -> BackendSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.ticks.values()) / _CLOCK_TICKS


def _wait_for_backends_to_exit(url: str) -> None:
    """Until the load's server processes are gone and reaped: an exiting backend's CPU is in
    neither its own entry nor the postmaster's reaped total for a moment."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _execute(
        url,
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()",
    ):
        time.sleep(0.05)
    time.sleep(0.5)


def _reset(url: str) -> None:
    """Drop what the previous load made and flush dirty pages, so no load pays for another."""
    for schema in (INGESTD_SCHEMA, "_ingestd", "ref"):
        _execute(url, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    _execute(url, "CHECKPOINT")


def _measure(command: list[str], log: Path) -> tuple[bool, float, float, int]:
    started = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=out)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait
    return child.returncode == 0, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def run_one(
    approach: str, rep: int, source: Path, mapped: Path, url: str, work: Path, memory_limit: str
) -> Run:
    _reset(url)
    folder = work / f"{approach}-{rep}"
    folder.mkdir(parents=True)
    log, result = work / f"{approach}-{rep}.log", folder / "result.json"
    if approach in REFERENCES:
        _execute(url, _REFERENCE_TABLES)
        copy = (
            f"\\copy ref.events FROM '{source}' (FORMAT csv, HEADER true)"
            if approach == "psql"
            else f"\\copy ref.events_mapped FROM '{mapped}' (FORMAT csv)"
        )
        command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", _libpq(url), "-c", copy]
    else:
        command = [
            sys.executable,
            "-m",
            "bench.pg_destination",
            "--child",
            f"--source={source}",
            f"--url={url}",
            f"--work={folder}",
            f"--result={result}",
            f"--memory-limit={memory_limit}",
        ]
    server_before = server_cpu_seconds(url)
    with BackendSampler(url) as backends:
        ok, seconds, cpu, rss = _measure(command, log)
    _wait_for_backends_to_exit(url)
    server_after = server_cpu_seconds(url)
    run = Run(approach, rep, ok, seconds, cpu, rss, log=str(log))
    run.backend_cpu_seconds = backends.seconds
    if server_before is not None and server_after is not None:
        run.server_cpu_seconds = server_after - server_before
    if ok:
        # Counted here, after the measured process, for all three alike.
        table = {"psql": "ref.events", "psql-mapped": "ref.events_mapped"}.get(
            approach, f"{INGESTD_SCHEMA}.events"
        )
        run.rows_in_table = int(_execute(url, f"SELECT count(*) FROM {table}")[0][0])
    if ok and approach not in REFERENCES:
        report = json.loads(result.read_text())
        run.load_seconds = report["load_seconds"]
        run.staging_seconds = report["staging_seconds"]
        run.counts = report["counts"]
    shutil.rmtree(folder, ignore_errors=True)
    return run


def child(source: Path, url: str, work: Path, result: Path, memory_limit: str) -> None:
    """The ingestd side, in its own process: load as the run engine does, report."""
    from ingestd.dataplane.contract import LoadRequest, Progress
    from ingestd.dataplane.destinations.postgres.destination import PostgresDestination
    from ingestd.dataplane.pipeline import DataPlane
    from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping

    started = time.perf_counter()
    warehouse = PostgresDestination(url, memory_limit=memory_limit, spill_dir=work / "spill")
    try:
        request = LoadRequest(
            LOAD_KEY,
            "u1",
            "r1",
            DATASET_TABLES["events"].in_project(PROJECT),
            mapping_from_column_mapping("Events", EVENTS_MAPPING),
            (source,),
            (source.name,),
            day=datetime.date.fromisoformat(DAY),
        )
        writing: list[float] = []

        def note_writing(progress: Progress) -> None:
            if progress.phase == "writing" and not writing:
                writing.append(time.perf_counter())

        loaded = DataPlane(warehouse, work / "staging").load(request, progress=note_writing)
    finally:
        warehouse.close()
    done = time.perf_counter()
    report = {
        "load_seconds": done - started,
        # Until the commit's write began: reading, validation, dedupe, counting (and, since
        # rows_ahead, the rows written to PostgreSQL while staging).
        "staging_seconds": (writing[0] if writing else done) - started,
        "vm_hwm_kib": vm_hwm_kib(),
        "counts": asdict(loaded.counts),
    }
    result.write_text(json.dumps(report))


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _server(run: Run) -> float:
    """The load's server CPU: its own backends' when sampled (other clients of the server do
    not count then), else the whole server's."""
    if run.backend_cpu_seconds > 0:
        return run.backend_cpu_seconds
    return run.server_cpu_seconds if run.server_cpu_seconds is not None else float("nan")


def _total_cpu(run: Run) -> float:
    return run.cpu_seconds + _server(run)


def _known(values: list[float]) -> list[float]:
    """Without the NaNs of runs whose server CPU could not be read."""
    return [v for v in values if v == v]


def report(runs: list[Run], rows: int, manifest: Manifest) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for approach in APPROACHES:
        ok = [r for r in runs if r.approach == approach and r.ok]
        seconds = _median([r.seconds for r in ok])
        summary[approach] = {
            "runs": len(ok),
            "seconds": seconds,
            "rows_per_second": rows / seconds if ok else 0,
            "cpu_seconds": _median([r.cpu_seconds for r in ok]),
            "server_cpu_seconds": _median(_known([_server(r) for r in ok])),
            "total_cpu_seconds": _median(_known([_total_cpu(r) for r in ok])),
            "peak_rss_mib": max((r.peak_rss_kib for r in ok), default=0) / 1024,
        }
    for reference in REFERENCES:
        ratios, cpu_ratios = [], []
        for rep in sorted({r.rep for r in runs}):
            pair = {r.approach: r for r in runs if r.rep == rep and r.ok}
            if "ingestd" in pair and reference in pair:
                ratios.append(pair[reference].seconds / pair["ingestd"].seconds)
                cpu_ratios.append(_total_cpu(pair[reference]) / _total_cpu(pair["ingestd"]))
        summary[f"ingestd_x_{reference}"] = {"median": _median(ratios), "per_rep": ratios}
        summary[f"ingestd_x_cpu_{reference}"] = {
            "median": _median(_known(cpu_ratios)),
            "per_rep": cpu_ratios,
        }
    ingestd = [r for r in runs if r.approach == "ingestd" and r.ok]
    counts = ingestd[0].counts if ingestd else {}
    summary["accounting_ok"] = bool(ingestd) and all(
        r.counts.get("read") == rows
        and r.counts.get("errors") == manifest.bad_ts
        and r.counts.get("rejected") == manifest.duplicates
        and r.rows_in_table == manifest.expected_inserted
        for r in ingestd
    )
    summary["psql_rows_ok"] = all(
        r.rows_in_table == (rows if r.approach == "psql" else manifest.expected_inserted)
        for r in runs
        if r.approach in REFERENCES and r.ok
    )

    reps = len({r.rep for r in runs})
    print(f"\n{rows:,} rows, CSV, medians over {reps} repetitions")
    print(
        f"{'approach':12} {'seconds':>8} {'rows/s':>11} {'CPU s':>7} {'server':>7} "
        f"{'total':>7} {'peak RSS':>10}"
    )
    for approach in APPROACHES:
        s = summary[approach]
        print(
            f"{approach:12} {s['seconds']:8.1f} {s['rows_per_second']:11,.0f} "
            f"{s['cpu_seconds']:7.1f} {s['server_cpu_seconds']:7.1f} "
            f"{s['total_cpu_seconds']:7.1f} {s['peak_rss_mib']:7,.0f} MiB"
        )
    print("(CPU s: the client's; server: the load's PostgreSQL backends'; total: both)")
    ingestd_ok = [r for r in runs if r.approach == "ingestd" and r.ok]
    staging = _median([r.staging_seconds for r in ingestd_ok])
    loading = _median([r.load_seconds for r in ingestd_ok])
    summary["ingestd"].update(staging_seconds=staging, load_seconds=loading)
    print(
        f"ingestd's load call: {loading:.1f} s, of which {staging:.1f} s staging (read, "
        "validate, dedupe, count, and the final rows known so far sent to PostgreSQL) and "
        f"{loading - staging:.1f} s writing at the commit (the rest of the COPY, quarantine, "
        "ledger, commit)"
    )
    for reference in REFERENCES:
        for kind, label in (("x", "s"), ("x_cpu", "total CPU s")):
            x = summary[f"ingestd_{kind}_{reference}"]
            print(
                f"ingestd {kind.replace('_', ' ')} vs {reference} ({reference} {label} / "
                f"ingestd {label}): {x['median']:.2f} "
                f"(per repetition: {', '.join(f'{r:.2f}' for r in x['per_rep'])})"
            )
    print(
        f"ingestd counts {counts} vs manifest read={rows} errors={manifest.bad_ts} "
        f"rejected={manifest.duplicates} inserted={manifest.expected_inserted}: "
        f"{'ok' if summary['accounting_ok'] else 'MISMATCH'}; "
        f"reference rows {'ok' if summary['psql_rows_ok'] else 'MISMATCH'}"
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="a database to create one from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--map-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.source, args.url, args.work, args.result, args.memory_limit)
        return
    if args.map_only:
        write_mapped(args.source, args.result)
        return

    source = data_file(args.out, args.rows, "csv")
    if not source.exists() or not manifest_file(args.out, args.rows).exists():
        # Children here and below: a child's peak RSS counts the parent's at the fork, so the
        # parent stays small (DuckDB in it would make psql look hundreds of MiB larger).
        generate = [sys.executable, "-m", "bench.generate", "--formats=csv"]
        subprocess.run([*generate, f"--rows={args.rows}", f"--out={args.out}"], check=True)
    manifest = Manifest.read(manifest_file(args.out, args.rows))
    mapped = args.out / f"events-{args.rows}.mapped.csv"
    if not mapped.exists():
        map_only = [sys.executable, "-m", "bench.pg_destination", "--map-only"]
        subprocess.run([*map_only, f"--source={source}", f"--result={mapped}"], check=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    database = f"ingestd_pg_bench_{uuid.uuid4().hex[:8]}"
    url = f"{args.admin_url.rsplit('/', 1)[0]}/{database}"
    work = args.out / "work" / f"pg-destination-{stamp}"
    _execute(args.admin_url, f'CREATE DATABASE "{database}"')
    load_before = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}", flush=True)
    runs: list[Run] = []
    try:
        for rep in range(args.repeat):
            order = APPROACHES if rep % 2 == 0 else APPROACHES[::-1]
            for approach in order:
                run = run_one(approach, rep, source, mapped, url, work, args.memory_limit)
                status = "ok" if run.ok else f"FAILED, see {run.log}"
                print(
                    f"  {approach:12} rep {rep}: {run.seconds:6.1f} s ({run.cpu_seconds:.1f} s "
                    f"CPU, server {_server(run):.1f} s), peak RSS "
                    f"{run.peak_rss_kib / 1024:,.0f} MiB, {status}",
                    flush=True,
                )
                runs.append(run)
    finally:
        _execute(args.admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    load_after = os.getloadavg()
    summary = report(runs, args.rows, manifest)
    print(f"load average before: {load_before[0]:.2f}, after: {load_after[0]:.2f} (1 min)")
    server = _execute(args.admin_url, "SELECT version()")[0][0]
    out = args.out / f"pg-destination-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "memory_limit": args.memory_limit,
                "server": server,
                "load_average": {"before": load_before, "after": load_after},
                "summary": summary,
                "runs": [asdict(r) for r in runs],
            },
            indent=2,
        )
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
