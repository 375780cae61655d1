"""Status and run lists at scale (issue 17 §4): latency and throughput of a real `ingestd serve`.

    .venv/bin/python -m bench.status_at_scale [--sources 1000] [--days 1000] [--runs 100000]
        [--duration 10] [--connections 16] [--threads 2] [--load-rows 2000000] [--keep]
        [--api-processes 1] [--pg-destination]

Creates a fresh PostgreSQL database (INGESTD_TEST_POSTGRES_URL's server, default
postgresql://postgres@127.0.0.1:5432/postgres), migrates it, fills the metadata with
``--sources`` x ``--days`` daily status (one unit per source and day) in ``--runs`` runs plus
their history, with ``generate_series`` (seconds, not hours), serves ingestd on it and drives
each endpoint with ``wrk`` for ``--duration`` seconds. It prints p50/p99 latency and requests/s
per endpoint and the ``EXPLAIN ANALYZE`` plan of every query each endpoint runs. While wrk
drives the GETs the same server loads a file (issue 17 §4: "while a load is running"): a source
``load`` of ``--load-rows`` generated events (``bench/out/events-<rows>.csv``), backfilled again
as soon as its last run ends, so one load is always in flight; the table says how many loads
ran under each endpoint and the end how many rows they loaded. The database
is dropped at the end (``--keep`` leaves it). Targets: p99 < 50 ms, >= 1,000 req/s on 2 cores.
Beside latency and throughput it prints the CPU each request cost, read from ``/proc`` over
the wrk run: ``srv cpu`` (ms of the serve process and its API processes per request; with a
load running it includes the load's) and ``pg cpu`` (ms of every PostgreSQL process per
request, the load's backends included): figures a busy machine moves far less than req/s.
Not a test: timing never decides pass or fail. ``wrk`` is the Debian package of that name
(``apt-get install -y wrk``); it is installed when missing and the bench runs as root.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.cluster import CLOCK_TICKS, process_ticks, processes
from bench.job import EVENTS_MAPPING
from bench.kusto_service_path import ensure_source

ADMIN_URL = os.environ.get(
    "INGESTD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]
FIRST_DAY = date(2023, 1, 1)
FIRST_RUN = datetime(2024, 1, 1, tzinfo=UTC)
RUN_SPACING_SECONDS = 60
KUSTO_DB, KUSTO_TABLE = "benchdb", "events"
LOAD_SOURCE, LOAD_DAY = "load", "2024-01-01"
EVENTS = {"unit_id": "user", "event_name": "event", "timestamp": "ts", "ids": {"userID": "user"}}


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p99_ms: float
    requests_per_second: float
    requests: int
    non_2xx: int
    timeouts: int
    """Requests without an answer within wrk's --timeout (5 s): not in p50/p99."""


def _cpu_seconds(pid: int) -> float:
    """CPU of one process so far, with its reaped children's (a PostgreSQL backend that ended
    moves into the postmaster's count, an API process restarted into serve's); 0 once gone."""
    try:
        return process_ticks(pid) / CLOCK_TICKS
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


@dataclass(frozen=True)
class CpuSample:
    server: float
    """CPU seconds of the serve process and its descendants (API processes)."""
    postgres: float
    """CPU seconds of every PostgreSQL process (the backends of the server and of the load)."""


def cpu_sample(server_pid: int) -> CpuSample:
    every = processes()
    tree = {server_pid}
    grew = True
    while grew:
        more = {pid for pid, parent, _ in every if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return CpuSample(
        server=sum(_cpu_seconds(pid) for pid in tree),
        postgres=sum(_cpu_seconds(pid) for pid, _, name in every if name == "postgres"),
    )


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: install it with `apt-get install -y wrk` (as root)")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get install -y wrk did not install wrk")
    return found


@contextmanager
def fresh_database() -> Iterator[str]:
    admin = ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"ingestd_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        if not KEEP:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept database {name}")


KEEP = False


def seed(env: dict[str, str], data: Path) -> str:
    """Migrate, create project ``bench`` with a console key, a file connection and the seed
    source (through the Statsig API in-process, as a user would); return the key."""
    from fastapi.testclient import TestClient

    from ingestd.api.app import create_app
    from ingestd.control.access import KeyKind
    from ingestd.services import Services
    from ingestd.settings import Settings

    settings = Settings(data_dir=data, database_url=env["INGESTD_DATABASE_URL"])
    services = Services(settings)
    key = services.access.create_key("bench", KeyKind.CONSOLE)
    root = data / "files" / "bench"
    root.mkdir(parents=True, exist_ok=True)
    headers = {"STATSIG-API-KEY": key}
    with TestClient(create_app(services, background=False)) as client:
        made = client.post(
            "/console/v1/ingestion/connection/file", json={"root": str(root)}, headers=headers
        )
        assert made.status_code == 200, made.text
        made = client.post(
            "/console/v1/ingestion",
            json={
                "type": "file",
                "dataset": "Events",
                "source_name": "seed",
                "query": "events/{ds}/*.csv",
                "column_mapping": EVENTS,
            },
            headers=headers,
        )
        assert made.status_code == 200, made.text
    services.close()
    return key


def fill(url: str, sources: int, days: int, runs: int) -> str:
    """The rows, in SQL. Returns a Kusto operation id to read."""
    from ingestd.domain.operation_ids import operation_id

    units_per_run = sources * days // runs
    assert units_per_run * runs == sources * days and days % units_per_run == 0, (
        "sources x days must split evenly into runs, and days into each run's days"
    )
    started = time.monotonic()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        project = conn.execute("SELECT id FROM projects WHERE name = 'bench'").fetchone()
        assert project is not None
        pid = project[0]
        conn.execute(
            """
            INSERT INTO sources (project_id, name, connection_id, table_id, dataset,
                path_template, query, read_options, mapping, column_mapping, load_mode,
                error_policy, schedule_hour_pst, api_triggered, enabled, created_at, updated_at)
            SELECT project_id, 'src-' || lpad(g::text, 4, '0'), connection_id, table_id,
                CASE WHEN g %% 2 = 0 THEN 'events' ELSE 'metrics' END, path_template, query,
                read_options, mapping, column_mapping, load_mode, error_policy, NULL, false,
                true, created_at, updated_at
            FROM sources, generate_series(0, %s - 1) AS g WHERE name = 'seed'
            """,
            (sources,),
        )
        conn.execute("DELETE FROM sources WHERE name = 'seed'")
        row = conn.execute("SELECT min(id) FROM sources WHERE project_id = %s", (pid,)).fetchone()
        assert row is not None
        first_source = row[0]
        # Run g covers source g % sources on units_per_run consecutive days.
        conn.execute(
            """
            INSERT INTO runs (id, project_id, trigger, kind, state, days, source_names,
                idempotency_key, cancel_requested, request, created_at, updated_at, ended_at,
                origin)
            SELECT md5('run' || g)::uuid::text, %(pid)s,
                CASE WHEN g %% 5 = 0 THEN 'backfill' ELSE 'scheduled' END, 'source',
                CASE WHEN g %% 20 = 0 THEN 'failed' ELSE 'succeeded' END,
                (SELECT json_agg(to_char(%(day0)s::date + (g / %(sources)s) * %(upr)s + k,
                    'YYYY-MM-DD')) FROM generate_series(0, %(upr)s - 1) AS k),
                json_build_array('src-' || lpad((g %% %(sources)s)::text, 4, '0')),
                NULL, false, '{}'::json,
                %(t0)s::timestamptz + make_interval(secs => g * %(spacing)s),
                %(t0)s::timestamptz + make_interval(secs => g * %(spacing)s + 40),
                %(t0)s::timestamptz + make_interval(secs => g * %(spacing)s + 40),
                'statsig'
            FROM generate_series(0, %(runs)s - 1) AS g
            """,
            {
                "pid": pid,
                "day0": FIRST_DAY,
                "sources": sources,
                "upr": units_per_run,
                "t0": FIRST_RUN,
                "spacing": RUN_SPACING_SECONDS,
                "runs": runs,
            },
        )
        conn.execute(
            """
            INSERT INTO units (id, run_id, project_id, position, source_id, source_name, day,
                table_name, load_key, spec, state, cancel_requested, attempt, max_attempts,
                error_code, error_message, failure_status, read, inserted, updated, rejected,
                errors, created_at, started_at, ended_at, updated_at)
            SELECT md5('unit' || u)::uuid::text, md5('run' || r)::uuid::text, %(pid)s,
                u %% %(upr)s, %(src0)s + r %% %(sources)s,
                'src-' || lpad((r %% %(sources)s)::text, 4, '0'),
                %(day0)s::date + (r / %(sources)s) * %(upr)s + u %% %(upr)s,
                'events.web', 'source:' || (%(src0)s + r %% %(sources)s) || ':' || u,
                '{}'::json, CASE WHEN u %% 20 = 7 THEN 'failed' ELSE 'succeeded' END, false,
                1, 3,
                CASE WHEN u %% 20 = 7 THEN 'QUERY_ERROR' END,
                CASE WHEN u %% 20 = 7 THEN 'the warehouse refused the query' END,
                CASE WHEN u %% 20 = 7 THEN 'Permanent' END,
                CASE WHEN u %% 10 = 3 THEN 0 ELSE 100 + u %% 50 END,
                CASE WHEN u %% 10 = 3 OR u %% 20 = 7 THEN 0 ELSE 100 + u %% 50 END,
                0, 0, 0,
                t, t + interval '1 second', t + interval '30 seconds', t + interval '30 seconds'
            FROM (
                SELECT u, u / %(upr)s AS r,
                    %(t0)s::timestamptz + make_interval(secs => (u / %(upr)s) * %(spacing)s) AS t
                FROM generate_series(0, %(units)s - 1) AS u
            ) AS g
            """,
            {
                "pid": pid,
                "upr": units_per_run,
                "src0": first_source,
                "sources": sources,
                "day0": FIRST_DAY,
                "t0": FIRST_RUN,
                "spacing": RUN_SPACING_SECONDS,
                "units": sources * days,
            },
        )
        conn.execute(
            """
            INSERT INTO source_days (project_id, source_name, day, unit_id, created_at, position)
            SELECT project_id, source_name, day, id, created_at, position FROM units
            """
        )
        # The kept counts of those cells (store.status_counts keeps them for ingestd's own
        # writes; these rows bypass it), as migration 0016 fills them.
        conn.execute(
            """
            INSERT INTO source_day_counts (project_id, day, has_dataset, dataset, cells)
            SELECT d.project_id, d.day, s.dataset IS NOT NULL, coalesce(s.dataset, ''), count(*)
            FROM source_days d
            JOIN sources s ON s.project_id = d.project_id AND s.name = d.source_name
            GROUP BY d.project_id, d.day, s.dataset IS NOT NULL, coalesce(s.dataset, '')
            """
        )
        # History: each run enqueued then ended; each unit enqueued, started, ended.
        conn.execute(
            """
            INSERT INTO status_history (run_id, unit_id, state, at, message)
            SELECT id, NULL, 'enqueued', created_at, NULL FROM runs
            UNION ALL SELECT id, NULL, state, ended_at, NULL FROM runs
            UNION ALL SELECT run_id, id, 'enqueued', created_at, NULL FROM units
            UNION ALL SELECT run_id, id, 'started', started_at, 'attempt 1' FROM units
            UNION ALL SELECT run_id, id, state, ended_at, NULL FROM units
            """
        )
        # One tracked Kusto operation of 20 blobs.
        run_id = str(uuid.uuid4())
        request = (
            f'{{"dialect": "kusto", "database": "{KUSTO_DB}", "table": "{KUSTO_TABLE}", '
            '"tracking": true}'
        )
        now = FIRST_RUN + timedelta(days=90)
        conn.execute(
            """
            INSERT INTO runs (id, project_id, trigger, kind, state, days, source_names,
                cancel_requested, request, created_at, updated_at, ended_at, origin)
            VALUES (%s, %s, 'api', 'blobs', 'succeeded', '[]', '[]', false, %s, %s, %s, %s,
                'kusto')
            """,
            (run_id, pid, request, now, now, now),
        )
        conn.execute(
            """
            INSERT INTO units (id, run_id, project_id, position, blob_url, table_name,
                load_key, spec, state, cancel_requested, attempt, max_attempts, read, inserted,
                updated, rejected, errors, created_at, started_at, ended_at, updated_at)
            SELECT gen_random_uuid()::text, %s, %s, b,
                'https://blobs.example/c/part-' || b || '.csv', 'benchdb.events',
                'blob:' || b, '{}'::json, 'succeeded', false, 1, 3, 10, 10, 0, 0, 0,
                %s, %s, %s, %s
            FROM generate_series(0, 19) AS b
            """,
            (run_id, pid, now, now, now, now),
        )
        # The runs' kept counts (store/run_counts.py), recounted over every run as migration
        # 0017 fills them: the runs above bypass Runs.create, which keeps them.
        conn.execute("DELETE FROM run_counts")
        conn.execute(
            """
            INSERT INTO run_counts (project_id, kind, origin, runs)
            SELECT project_id, kind, coalesce(origin, ''), count(*)
            FROM runs GROUP BY project_id, kind, coalesce(origin, '')
            """
        )
        conn.commit()
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"filled in {time.monotonic() - started:.0f} s", flush=True)
    return operation_id(run_id, KUSTO_DB, KUSTO_TABLE)


@contextmanager
def serve(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """The base URL and pid of an ``ingestd serve`` on a free port."""
    sock_port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(sock_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),  # a file, not a pipe nobody reads (a full pipe blocks it)
    )
    url = f"http://127.0.0.1:{sock_port}"
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
        yield url, process.pid
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


def endpoints(key: str, operation: str, days: int) -> list[Endpoint]:
    statsig = {"STATSIG-API-KEY": key}
    amperity = {
        "Authorization": f"Bearer {key}",
        "api-version": "2024-04-01",
        "amperity-tenant": "bench",
    }
    kusto = {"Authorization": f"Bearer {key}"}
    start = FIRST_DAY + timedelta(days=days // 2)
    end = start + timedelta(days=89)
    last = FIRST_DAY + timedelta(days=days - 1)
    window = f"startDate={start}&endDate={end}"
    whole = f"startDate={FIRST_DAY}&endDate={last}"
    deep90 = 1000 * 90 // 10 - 10
    jobs_from = FIRST_RUN + timedelta(days=30)
    jobs_to = jobs_from + timedelta(minutes=10)
    status = "/console/v1/ingestion/status"
    return [
        Endpoint(
            "status 90 days, source + dataset",
            f"{status}?{window}&source=src-0420&dataset=Events",
            statsig,
        ),
        Endpoint("status 90 days, dataset, page 1", f"{status}?{window}&dataset=Events", statsig),
        Endpoint("status 90 days, page 1", f"{status}?{window}", statsig),
        Endpoint(f"status 90 days, page {deep90}", f"{status}?{window}&page={deep90}", statsig),
        Endpoint("status all days, page 1", f"{status}?{whole}", statsig),
        Endpoint("status all days, page 90000", f"{status}?{whole}&page=90000", statsig),
        Endpoint("runs page 1", "/console/v1/ingestion/runs", statsig),
        Endpoint("runs page 5000", "/console/v1/ingestion/runs?page=5000", statsig),
        Endpoint(
            "amperity jobs, 10-minute window",
            "/api/ingest/jobs?created_from="
            + jobs_from.strftime("%Y-%m-%dT%H:%M:%SZ")
            + "&created_to="
            + jobs_to.strftime("%Y-%m-%dT%H:%M:%SZ"),
            amperity,
        ),
        Endpoint(
            "kusto operation status",
            f"/v1/rest/ingestion/queued/{KUSTO_DB}/{KUSTO_TABLE}/{operation}?details=true",
            kusto,
        ),
    ]


class Load:
    """Keeps one file load in flight on the server under test: backfills source ``load`` for
    ``LOAD_DAY``, waits for the run to end (read from the metadata database), and again,
    until stopped. Counts the runs that ended and the rows they inserted."""

    def __init__(self, base: str, key: str, database_url: str) -> None:
        self.base = base
        self.headers = {"STATSIG-API-KEY": key}
        self.dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
        self.ended: list[tuple[str, int]] = []
        """(run state, rows inserted) of every load run that ended."""
        self.failure: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="load", daemon=True)

    @staticmethod
    def prepare(data: Path, rows: int) -> None:
        """The file the ``load`` source reads, in the connection's root."""
        day = data / "files" / "bench" / LOAD_SOURCE / LOAD_DAY
        day.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ensure_source(rows, Path(__file__).resolve().parent / "out"), day / "e.csv")

    def start(self) -> None:
        made = httpx.post(
            f"{self.base}/console/v1/ingestion",
            json={
                "type": "file",
                "dataset": "Events",
                "source_name": LOAD_SOURCE,
                "query": LOAD_SOURCE + "/{ds}/*.csv",
                "column_mapping": EVENTS_MAPPING,
            },
            headers=self.headers,
            timeout=30,
        )
        assert made.status_code == 200, made.text
        self._thread.start()
        deadline = time.monotonic() + 60
        while self.running() is None:  # the first run is claimed before anything is measured
            if self.failure or time.monotonic() > deadline:
                raise SystemExit(f"the load did not start: {self.failure}")
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(600)

    def running(self) -> str | None:
        """The state of the load unit a worker is running, if there is one."""
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT state FROM units WHERE source_name = %s "
                "AND state IN ('started', 'downloading', 'loading')",
                (LOAD_SOURCE,),
            ).fetchone()
        return None if row is None else str(row[0])

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                started = httpx.post(
                    f"{self.base}/console/v1/ingestion/backfill",
                    json={
                        "type": "file",
                        "dataset": "Events",
                        "source": LOAD_SOURCE,
                        "datestamp_start": LOAD_DAY,
                        "datestamp_end": LOAD_DAY,
                    },
                    headers=self.headers,
                    timeout=30,
                )
                assert started.status_code == 200, started.text
                run_id = started.json()["data"]["runID"]
                self.ended.append(self._wait(run_id))
        except Exception as exc:  # noqa: BLE001 - reported by start() and main(), not lost
            self.failure = repr(exc)

    def _wait(self, run_id: str) -> tuple[str, int]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while True:
                row = conn.execute(
                    "SELECT r.state, coalesce(sum(u.inserted), 0) FROM runs r "
                    "JOIN units u ON u.run_id = r.id WHERE r.id = %s GROUP BY r.state",
                    (run_id,),
                ).fetchone()
                assert row is not None, run_id
                if row[0] in ("succeeded", "partially_succeeded", "failed", "canceled"):
                    return str(row[0]), int(row[1])
                time.sleep(0.5)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    assert match, text
    return float(match.group(1)) * _UNITS[match.group(2)]


def drive(wrk: str, base: str, endpoint: Endpoint, args: argparse.Namespace) -> Figures:
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    command += ["--latency", "--timeout", "5s"]
    for name, value in endpoint.headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, base + endpoint.path], capture_output=True, text=True, check=True
    ).stdout
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    count = re.search(r"^\s+(\d+) requests in", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    late = re.search(r"Socket errors:.*timeout (\d+)", out)
    assert p50 and p99 and rps and count, out
    return Figures(
        _ms(p50.group(1)),
        _ms(p99.group(1)),
        float(rps.group(1)),
        int(count.group(1)),
        int(bad.group(1)) if bad else 0,
        int(late.group(1)) if late else 0,
    )


def explain(env: dict[str, str], data: Path, points: list[Endpoint]) -> None:
    """Every SELECT each endpoint runs, captured in-process, then EXPLAIN ANALYZE-d."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from ingestd.api.app import create_app
    from ingestd.services import Services
    from ingestd.settings import Settings

    services = Services(Settings(data_dir=data, database_url=env["INGESTD_DATABASE_URL"]))
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    with TestClient(create_app(services, background=False)) as client:
        for point in points:
            captured.clear()
            event.listen(services.store.engine, "before_cursor_execute", capture)
            try:
                answer = client.get(point.path, headers=point.headers)
            finally:
                event.remove(services.store.engine, "before_cursor_execute", capture)
            print(f"\n=== {point.name}: HTTP {answer.status_code}, {len(captured)} queries")
            for statement, parameters in captured:
                if "FROM api_keys" in statement:
                    continue  # the key lookup of every request: an index probe
                with services.store.engine.connect() as conn:
                    plan = conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
                    ).all()
                print("--- " + " ".join(statement.split())[:300])
                for (line,) in plan:
                    print("    " + line)
    services.close()


def _per_request(cpu_seconds: float, requests: int) -> str:
    """CPU milliseconds per request (the server's include its load's and its idle work's)."""
    return f"{cpu_seconds * 1000 / requests:.2f}" if requests else "-"


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    global KEEP
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--days", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--load-rows",
        type=int,
        default=2_000_000,
        help="rows of the file the server loads while it is measured (0: no load)",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="INGESTD_API_PROCESSES of the server; more than 1 loads into PostgreSQL (the same "
        "database), as it requires",
    )
    parser.add_argument(
        "--pg-destination",
        action="store_true",
        help="load into PostgreSQL (the metadata's database) instead of the DuckDB file",
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--no-explain", action="store_true")
    args = parser.parse_args()
    KEEP = args.keep
    wrk = ensure_wrk()
    with fresh_database() as url, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = {
            **os.environ,
            "INGESTD_DATA_DIR": str(data),
            "INGESTD_DATABASE_URL": url,
            "INGESTD_SCHEDULER_INTERVAL_SECONDS": "3600",
            "INGESTD_DATA_CHECK_INTERVAL_SECONDS": "86400",
            # The vendor's 10 requests/s per tenant would make the load test measure 429s.
            "INGESTD_AMPERITY_REQUESTS_PER_SECOND": "1000000",
            "INGESTD_API_PROCESSES": str(args.api_processes),
        }
        if args.pg_destination or args.api_processes > 1:
            env["INGESTD_DESTINATION_URL"] = url
            env["INGESTD_FETCH_ALLOWED_NETWORKS"] = "127.0.0.1/32,::1/128"
        print(
            f"api processes: {args.api_processes}; destination: "
            f"{'PostgreSQL' if 'INGESTD_DESTINATION_URL' in env else 'DuckDB'}"
        )
        key = seed(env, data)
        operation = fill(url, args.sources, args.days, args.runs)
        points = endpoints(key, operation, args.days)
        if not args.no_explain:
            explain(env, data, points)
        if args.load_rows:
            Load.prepare(data, args.load_rows)
        with serve(env, Path(tmp) / "serve.log") as (base, pid):
            load = Load(base, key, url) if args.load_rows else None
            if load is not None:
                load.start()
            print(f"\n$ uptime: {_uptime()}")
            print(
                f"\n{'endpoint':40} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'non-2xx':>8} "
                f"{'timeout':>8} {'loads':>6} {'srv cpu':>8} {'pg cpu':>7}"
            )
            for point in points:
                httpx.get(base + point.path, headers=point.headers, timeout=30)  # warm up
                before = len(load.ended) if load is not None else 0
                loading = load is not None and load.running() is not None
                cpu_before = cpu_sample(pid)
                got = drive(wrk, base, point, args)
                cpu_after = cpu_sample(pid)
                # loads: "+N" runs ended while wrk ran (N more started); "*" one was running
                # at the start; "-" no load
                mark = (
                    "-" if load is None else f"{'*' if loading else ''}+{len(load.ended) - before}"
                )
                print(
                    f"{point.name:40} {got.p50_ms:8.1f} {got.p99_ms:8.1f} "
                    f"{got.requests_per_second:8.0f} {got.non_2xx:8d} {got.timeouts:8d} "
                    f"{mark:>6} "
                    f"{_per_request(cpu_after.server - cpu_before.server, got.requests):>8} "
                    f"{_per_request(cpu_after.postgres - cpu_before.postgres, got.requests):>7}",
                    flush=True,
                )
            print(f"$ uptime: {_uptime()}")
            if load is not None:
                load.stop()
                if load.failure:
                    raise SystemExit(f"the load failed: {load.failure}")
                states = sorted({state for state, _ in load.ended})
                rows = sum(inserted for _, inserted in load.ended)
                print(f"load: {len(load.ended)} runs ended ({', '.join(states)}), {rows} rows")


if __name__ == "__main__":
    main()
