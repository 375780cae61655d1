"""The Kusto service path (issue 17 §1): a CSV queued as a blob, from POST to ``Succeeded``.

    .venv/bin/python -m bench.kusto_service_path [--rows 2000000] [--repeat 3]

Starts a loopback HTTP file server (in this process, ``sendfile``) for
``bench/out/events-<rows>.csv`` (generated if missing) and a real ``ingestd serve`` (a
subprocess, its own data directory and SQLite metadata, DuckDB destination), creates a Kusto
table shaped like the file (``user_id:string, event_name:string, ts:long, value:real,
meta:dynamic``) and, per repetition, alternating with the reference:

* ``ingestd``: ``POST /v1/rest/ingestion/queued/bench/Events_<n>`` with the blob's URL
  (``format=csv``, ``ignoreFirstRecord``, tracking on), then the status GET every ``--poll``
  seconds (50 ms) until the blob is ``Succeeded``. Wall time is POST to the first
  ``Succeeded`` answer; CPU is the server process's (all its threads, ``/proc/<pid>/stat``)
  over the same span.
* ``duckdb``: a child process connects to a fresh database file and runs ``CREATE TABLE`` of
  the same shape plus ``INSERT INTO ... SELECT ... FROM read_csv(<the local file>)`` (``ts``
  by ``TRY_CAST``), then closes it: DuckDB reading the same file locally, nothing counted. Its
  wall and CPU cover connect to close (not the interpreter start, as the server is already up).

With ``--api-processes N`` (N > 1) the server is ``serve --api-processes N``, which needs
PostgreSQL for metadata and destination: a fresh database on the local server holds both, so
the load is a PostgreSQL load and ``x`` no longer compares like with like. What it is for is
the claim: an API process answers the POST and ``serve``'s pool, in another process, claims
the blob (``store/work_notices.py``). CPU is then the process tree's (``serve`` and its API
processes).

``x`` = duckdb seconds / ingestd seconds, per repetition, then the median (above 1: ingestd is
faster); ``x cpu`` the same on CPU seconds, which holds up better when other work shares the
cores. Where ingestd's time goes comes from the unit's own status history (``status_history``:
enqueued, downloading, loading, succeeded) and the poll: claim (POST answered to
``downloading``), download (to ``loading``), load (to ``succeeded``) and report (the
``succeeded`` row to the poll that saw it). Not a test: timing never decides pass or fail.
Results land in ``bench/out/kusto-service-path-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bench.cluster import (
    execute,
    fresh_database,
    processes,
    sqlalchemy_url,
)
from bench.dataset import DEFAULT_OUT, REPO_ROOT, Manifest, data_file

CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]
DATABASE = "bench"
COLUMNS = "user_id:string, event_name:string, ts:long, value:real, meta:dynamic"
GIVE_UP_SECONDS = 600.0
_TICKS = os.sysconf("SC_CLK_TCK")

_REFERENCE = """
import json, resource, sys, time
import duckdb
db, source, memory = sys.argv[1:4]
started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
con = duckdb.connect(db)
con.execute(f"SET memory_limit = '{memory}'")
con.execute("SET enable_progress_bar = false")
con.execute("CREATE TABLE events (user_id VARCHAR, event_name VARCHAR, ts BIGINT, "
            "value DOUBLE, meta JSON)")
con.execute(
    "INSERT INTO events SELECT user_id, event_name, TRY_CAST(ts AS BIGINT), value, meta "
    "FROM read_csv('" + source.replace("'", "''") + "', header = true, auto_detect = false, "
    "columns = {'user_id': 'VARCHAR', 'event_name': 'VARCHAR', "
    "'ts': 'VARCHAR', 'value': 'DOUBLE', 'meta': 'VARCHAR'}) "
    "WHERE TRY_CAST(ts AS BIGINT) IS NOT NULL")
rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
con.close()
end = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows,
                  "cpu": end.ru_utime + end.ru_stime - cpu.ru_utime - cpu.ru_stime}))
"""


@dataclass(frozen=True)
class Phases:
    """Seconds of one queued blob between its status rows (see the module docstring)."""

    claim: float
    download: float
    load: float
    report: float


@dataclass(frozen=True)
class Measured:
    approach: str
    rep: int
    seconds: float
    cpu_seconds: float
    rows: int
    phases: Phases | None = None
    counts: dict[str, int] | None = None


# -- the blob store ---------------------------------------------------------------------------


@contextmanager
def file_server(path: Path) -> Iterator[str]:
    """Serve ``path`` at ``/<name>`` on a loopback port, as a blob store would (a
    Content-Length, the bytes by ``sendfile`` so the store costs this process little CPU)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.lstrip("/") != path.name:
                self.send_error(404)
                return
            size = path.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            with path.open("rb") as handle:
                sent = 0
                while sent < size:
                    sent += os.sendfile(self.connection.fileno(), handle.fileno(), sent, 1 << 24)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{quote(path.name)}"
    finally:
        server.shutdown()
        server.server_close()


# -- ingestd ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingestd:
    url: str
    key: str
    data: Path
    process: subprocess.Popen[bytes]
    postgres: str | None
    """The metadata database's libpq URL, or None: SQLite in ``data``."""

    def cpu(self) -> float:
        """CPU seconds so far of ``serve`` and of its API processes."""
        pids = [self.process.pid, *_children(self.process.pid)]
        return sum(process_cpu(pid) for pid in pids)


@contextmanager
def serving(
    data: Path, memory_limit: str, log: Path, postgres: str | None, api_processes: int
) -> Iterator[Ingestd]:
    """``ingestd serve`` on SQLite metadata and the DuckDB destination, or with ``postgres``
    (a libpq URL) for both and ``api_processes`` API processes."""
    env = {
        **os.environ,
        "INGESTD_DATA_DIR": str(data),
        "INGESTD_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        "INGESTD_BLOB_MAX_BYTES": str(64 << 30),
        "INGESTD_MEMORY_LIMIT": memory_limit,
        "INGESTD_LOG_LEVEL": "WARNING",
    }
    if postgres is not None:
        env["INGESTD_DATABASE_URL"] = sqlalchemy_url(postgres)
        env["INGESTD_DESTINATION_URL"] = postgres
        env["INGESTD_API_PROCESSES"] = str(api_processes)
    created = subprocess.run(
        [*CLI, "keys", "create", "--project", "bench", "--kind", "console"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),  # a file, not a pipe nobody reads (a full pipe blocks it)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise SystemExit(f"ingestd serve exited: {log.read_text()}")
            if time.monotonic() > deadline:
                raise SystemExit("ingestd serve did not come up in 60 s")
            time.sleep(0.2)
        yield Ingestd(url, key, data, process, postgres)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    return [child for child, parent, _ in processes() if parent == pid]


def process_cpu(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def mgmt(client: httpx.Client, csl: str) -> None:
    answer = client.post("/v1/rest/mgmt", json={"db": DATABASE, "csl": csl})
    if answer.status_code != 200:
        raise SystemExit(f"{csl}: HTTP {answer.status_code} {answer.text}")


def queue_and_wait(
    server: Ingestd, client: httpx.Client, blob: str, rep: int, poll: float
) -> Measured:
    table = f"Events_{rep}"
    mgmt(client, f".create table {table} ({COLUMNS})")
    body = {
        "blobs": [{"url": blob}],
        "properties": {"format": "csv", "ignoreFirstRecord": True, "enableTracking": True},
    }
    cpu_before = server.cpu()
    started = time.perf_counter()
    # On a connection of its own, as an SDK's queued client would: with API processes, the
    # kernel gives it to whichever process accepts next, not the one the polls are answered by.
    with httpx.Client(base_url=server.url, headers=client.headers, timeout=60) as poster:
        answer = poster.post(f"/v1/rest/ingestion/queued/{DATABASE}/{table}", json=body)
    if answer.status_code != 200:
        raise SystemExit(f"queue: HTTP {answer.status_code} {answer.text}")
    operation = answer.json()["ingestionOperationId"]
    status_path = f"/v1/rest/ingestion/queued/{DATABASE}/{table}/{quote(operation, safe='')}"
    while True:
        status = client.get(status_path, params={"details": "true"}).json()
        states = [b["status"] for b in status.get("details", [])] or [status.get("status")]
        if all(s in ("Succeeded", "Failed", "Skipped", "Canceled") for s in states):
            break
        if time.perf_counter() - started > GIVE_UP_SECONDS:
            raise SystemExit(f"operation {operation} did not end: {status}")
        time.sleep(poll)
    seen = time.perf_counter()
    cpu = server.cpu() - cpu_before
    if states != ["Succeeded"]:
        raise SystemExit(f"the blob ended {states}: {json.dumps(status)[:2000]}")
    counts, history = unit_record(server)
    phases = Phases(
        claim=_between(history, "enqueued", "downloading"),
        download=_between(history, "downloading", "loading"),
        load=_between(history, "loading", "succeeded"),
        report=max(0.0, (seen - started) - _between(history, "enqueued", "succeeded")),
    )
    return Measured("ingestd", rep, seen - started, cpu, counts["inserted"], phases, counts)


_NEWEST_UNIT = (
    "SELECT id, read, inserted, rejected, errors FROM units ORDER BY created_at DESC LIMIT 1"
)


def unit_record(server: Ingestd) -> tuple[dict[str, int], dict[str, datetime]]:
    """The newest unit's counts and the first time of each of its states."""
    if server.postgres is not None:
        [(unit_id, read, inserted, rejected, errors)] = execute(server.postgres, _NEWEST_UNIT)
        history: dict[str, datetime] = {}
        for state, at in execute(
            server.postgres,
            "SELECT state, at FROM status_history WHERE unit_id = %s ORDER BY id",
            (unit_id,),
        ):
            history.setdefault(state, at)
        counts = {"read": read, "inserted": inserted, "rejected": rejected, "errors": errors}
        return counts, history
    with sqlite3.connect(f"file:{server.data / 'metadata.sqlite'}?mode=ro", uri=True) as db:
        unit_id, read, inserted, rejected, errors = db.execute(_NEWEST_UNIT).fetchone()
        history = {}
        for state, at in db.execute(
            "SELECT state, at FROM status_history WHERE unit_id = ? ORDER BY id", [unit_id]
        ):
            history.setdefault(state, datetime.fromisoformat(at))
    counts = {"read": read, "inserted": inserted, "rejected": rejected, "errors": errors}
    return counts, history


def _between(history: dict[str, datetime], first: str, then: str) -> float:
    if first not in history or then not in history:
        return float("nan")
    return (history[then] - history[first]).total_seconds()


# -- the reference ----------------------------------------------------------------------------


def duckdb_reference(source: Path, work: Path, memory_limit: str, rep: int) -> Measured:
    db = work / f"reference-{rep}.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", _REFERENCE, str(db), str(source), memory_limit],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the DuckDB reference failed: {done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    db.unlink(missing_ok=True)
    return Measured("duckdb", rep, figures["seconds"], figures["cpu"], figures["rows"])


# -- the run ----------------------------------------------------------------------------------


def ensure_source(rows: int, out: Path) -> Path:
    source = data_file(out, rows, "csv")
    if not source.exists():
        subprocess.run(
            [sys.executable, "-m", "bench.generate", f"--rows={rows}", "--formats=csv"],
            check=True,
            cwd=REPO_ROOT,
        )
    return source


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(results: list[Measured], manifest: Manifest) -> dict[str, Any]:
    ours = {r.rep: r for r in results if r.approach == "ingestd"}
    theirs = {r.rep: r for r in results if r.approach == "duckdb"}
    pairs = sorted(set(ours) & set(theirs))
    x = [theirs[p].seconds / ours[p].seconds for p in pairs]
    x_cpu = [theirs[p].cpu_seconds / ours[p].cpu_seconds for p in pairs]
    print("\nrep ingestd s    cpu duckdb s    cpu     x x cpu")
    for p, a, b in zip(pairs, x, x_cpu, strict=True):
        i, d = ours[p], theirs[p]
        print(
            f"{p:>3} {i.seconds:9.2f} {i.cpu_seconds:6.2f} {d.seconds:8.2f} {d.cpu_seconds:6.2f}"
            f" {a:5.2f} {b:5.2f}"
        )
    print(f"median x {_median(x):.2f}, x cpu {_median(x_cpu):.2f} (target x >= 0.8)")
    print("\nwhere ingestd's time goes (s): claim / download / load / report")
    for p in pairs:
        ph = ours[p].phases
        assert ph is not None
        print(f"{p:>3} {ph.claim:6.3f} / {ph.download:6.3f} / {ph.load:6.3f} / {ph.report:6.3f}")
    counts = [r.counts for r in ours.values()]
    exact = all(
        c is not None
        and c["read"] == manifest.rows
        and c["inserted"] + c["rejected"] + c["errors"] == manifest.rows
        and c["errors"] == manifest.bad_ts
        for c in counts
    )
    print(f"accounting: {counts[0] if counts else None}; exact: {exact}")
    return {"x": x, "x_cpu": x_cpu, "median_x": _median(x), "median_x_cpu": _median(x_cpu)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--poll", type=float, default=0.05, help="seconds between status GETs (default 0.05)"
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="serve --api-processes N; above 1, PostgreSQL metadata and destination",
    )
    args = parser.parse_args()
    source = ensure_source(args.rows, args.out)
    manifest = Manifest.for_rows(args.rows)
    load_before = os.getloadavg()
    results: list[Measured] = []
    with (
        tempfile.TemporaryDirectory(prefix="kusto-bench-", dir=args.out) as tmp,
        # A new PostgreSQL database for the run (metadata and destination), dropped after it.
        fresh_database("ingestd_kusto_bench")
        if args.api_processes > 1
        else nullcontext() as postgres,
        file_server(source) as blob,
        serving(
            Path(tmp) / "data",
            args.memory_limit,
            Path(tmp) / "serve.log",
            postgres,
            args.api_processes,
        ) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=60
        ) as client,
    ):
        for rep in range(args.repeat):
            order = ("ingestd", "duckdb") if rep % 2 == 0 else ("duckdb", "ingestd")
            for approach in order:
                if approach == "ingestd":
                    result = queue_and_wait(server, client, blob, rep, args.poll)
                else:
                    result = duckdb_reference(source, Path(tmp), args.memory_limit, rep)
                print(f"rep {rep} {approach}: {result.seconds:.2f} s, cpu {result.cpu_seconds:.2f}")
                results.append(result)
    summary = report(results, manifest)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = args.out / f"kusto-service-path-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "api_processes": args.api_processes,
                "load_before": load_before,
                "load_after": os.getloadavg(),
                "results": [asdict(r) for r in results],
                **summary,
            },
            indent=2,
        )
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
