"""The processes of a scaling run on this machine, and what they cost.

A ``Deployment`` is one configuration under test: fresh metadata and destination databases, one
``ingestd serve`` (local pool or Celery dispatcher) and any number of ``ingestd worker``
processes, each with a data directory of its own, so nothing is shared but PostgreSQL and the
broker (as across machines). ``RedisServer`` is a broker of the run's own on a free port, not the
machine's shared one. ``FileServer`` serves the input CSV files over loopback HTTP, so every
worker downloads what it loads.

``CostSampler`` reads, every quarter second, the CPU of the ingestd processes (``/proc/<pid>/
stat``) and of the PostgreSQL backends connected to the deployment's two databases (both are
fresh, so every backend on them is the deployment's; destination connections also carry
``application_name = ingestd:<pid>``, which attributes each backend to its process). What a
backend spends in the last quarter second before it exits mid-run is missed; the pool keeps
its connections, so that is rare.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.dataset import REPO_ROOT

CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} does not listen on port {port}")
        time.sleep(0.05)


def execute(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def database_url(admin_url: str, name: str) -> str:
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def sqlalchemy_url(libpq_url: str) -> str:
    return libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database on the local PostgreSQL server, named ``<prefix>_<random>``, dropped after
    the block; yields its libpq URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    execute(ADMIN_URL, f'CREATE DATABASE "{name}"')
    try:
        yield database_url(ADMIN_URL, name)
    finally:
        execute(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RedisServer:
    """A redis-server of the run's own on a free port, keeping nothing on disk."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                *(binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(root)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, "redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class FileServer:
    """Serves one folder's files at ``http://127.0.0.1:<port>/<name>`` (a thread here)."""

    def __init__(self, folder: Path) -> None:
        handler = partial(_QuietFiles, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Process:
    role: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def peak_rss_kib(self) -> int:
        """The process's peak resident memory so far (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self, sig: int = signal.SIGTERM, grace: float = 60) -> int | None:
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                head, tail = (entry / "stat").read_text().rsplit(")", 1)
            except (FileNotFoundError, ProcessLookupError):
                continue
            found.append((int(entry.name), int(tail.split()[1]), head.split("(", 1)[1]))
    return found


def process_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15])


@dataclass
class CostSampler:
    """CPU ticks of some processes and of two databases' backends, from a baseline on."""

    processes: dict[int, str]
    """pid -> role (``serve``, ``worker-1``, ...)."""
    databases: dict[str, str]
    """label (``destination``, ``metadata``) -> libpq URL."""
    baseline: dict[tuple[str, int], int] = field(default_factory=dict)
    latest: dict[tuple[str, int], int] = field(default_factory=dict)
    backend_owner: dict[int, str] = field(default_factory=dict)
    """Destination backend pid -> the role of the ingestd process it serves."""
    lock_wait_samples: int = 0
    """Destination backends seen waiting for an advisory lock (a table's write lock), summed
    over samples: times SAMPLE_SECONDS, the seconds loads spent waiting for another's COPY."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self, connections: dict[str, Any]) -> None:
        for pid in self.processes:
            with suppress(OSError, ValueError, IndexError):
                self.latest[("process", pid)] = process_ticks(pid)
        roles = {f"ingestd:{pid}": role for pid, role in self.processes.items()}
        for label, conn in connections.items():
            rows = conn.execute(
                "SELECT pid, application_name, wait_event_type = 'Lock' "
                "AND wait_event = 'advisory' FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            ).fetchall()
            for pid, application, waits in rows:
                if label == "destination" and waits and self._started.is_set():
                    self.lock_wait_samples += 1
                with suppress(OSError, ValueError, IndexError):
                    self.latest[(label, pid)] = process_ticks(pid)
                if label == "destination" and application in roles:
                    self.backend_owner[pid] = roles[application]

    def _run(self) -> None:
        import psycopg

        connections = {
            label: psycopg.connect(url, autocommit=True) for label, url in self.databases.items()
        }
        try:
            self._sample(connections)
            self.baseline = dict(self.latest)
            self._started.set()
            while not self._stop.wait(SAMPLE_SECONDS):
                self._sample(connections)
            self._sample(connections)
        finally:
            for conn in connections.values():
                conn.close()

    def __enter__(self) -> CostSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._started.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _seconds(self, key: tuple[str, int]) -> float:
        return (self.latest[key] - self.baseline.get(key, 0)) / CLOCK_TICKS

    def process_seconds(self) -> dict[str, float]:
        """Role -> CPU seconds since the baseline."""
        return {
            role: self._seconds(("process", pid))
            for pid, role in self.processes.items()
            if ("process", pid) in self.latest
        }

    @property
    def lock_wait_seconds(self) -> float:
        return self.lock_wait_samples * SAMPLE_SECONDS

    def backend_seconds(self, label: str) -> float:
        return sum(self._seconds(key) for key in self.latest if key[0] == label)

    def destination_seconds_by_role(self) -> dict[str, float]:
        """The destination backends' CPU, by the ingestd process they serve."""
        by_role: dict[str, float] = {}
        for (label, pid), _ in self.latest.items():
            if label == "destination":
                role = self.backend_owner.get(pid, "unattributed")
                by_role[role] = by_role.get(role, 0.0) + self._seconds((label, pid))
        return by_role


@dataclass
class Deployment:
    """One configuration's databases and processes (see the module docstring)."""

    root: Path
    executor: str
    """``local`` (the serve runs units on its pool) or ``celery``."""
    broker_url: str | None
    admin_url: str = ADMIN_URL
    metadata_db: str = field(default_factory=lambda: f"ingestd_scale_meta_{uuid.uuid4().hex[:8]}")
    destination_db: str = field(
        default_factory=lambda: f"ingestd_scale_dest_{uuid.uuid4().hex[:8]}"
    )
    queue: str = field(default_factory=lambda: f"ingestd.scaling.{uuid.uuid4().hex[:8]}")
    secret_key: str = ""
    storage_key: str = field(default_factory=lambda: secrets.token_hex(32))
    serve: Process | None = None
    workers: list[Process] = field(default_factory=list)
    url: str = ""
    _count: int = 0

    @property
    def metadata_url(self) -> str:
        return database_url(self.admin_url, self.metadata_db)

    @property
    def destination_url(self) -> str:
        return database_url(self.admin_url, self.destination_db)

    def create_databases(self) -> None:
        from cryptography.fernet import Fernet

        self.secret_key = Fernet.generate_key().decode()
        for name in (self.metadata_db, self.destination_db):
            execute(self.admin_url, f'CREATE DATABASE "{name}"')

    def drop_databases(self) -> None:
        for name in (self.metadata_db, self.destination_db):
            execute(self.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def env(self, data: Path) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "INGESTD_DATA_DIR": str(data),
            "INGESTD_EXECUTOR": self.executor,
            "INGESTD_WORKERS": "1",
            "INGESTD_DATABASE_URL": sqlalchemy_url(self.metadata_url),
            "INGESTD_DESTINATION_URL": sqlalchemy_url(self.destination_url),
            "INGESTD_SECRET_KEY": self.secret_key,
            "INGESTD_KUSTO_STORAGE_KEY": self.storage_key,
            "INGESTD_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
        if self.broker_url is not None:
            env["INGESTD_BROKER_URL"] = self.broker_url
            env["INGESTD_BROKER_QUEUE"] = self.queue
        return env

    def _data(self, role: str) -> Path:
        self._count += 1
        data = self.root / f"{role}-{self._count}"
        data.mkdir(parents=True)
        return data

    def _spawn(self, role: str, *args: str) -> Process:
        data = self._data(role)
        log = data / "process.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(
                [*CLI, *args],
                cwd=REPO_ROOT,
                env=self.env(data),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        return Process(role, process, log)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*CLI, *args],
            cwd=REPO_ROOT,
            env=self.env(self._data("cli")),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ingestd {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def start_serve(self) -> None:
        import httpx

        port = free_port()
        self.serve = self._spawn("serve", "serve", "--port", str(port))
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            with suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            if not self.serve.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not come up:\n{self.serve.tail()}")
            time.sleep(0.1)

    def start_workers(self, count: int) -> None:
        """``count`` workers of concurrency 1; returns once each answers a broker ping."""
        from celery import Celery

        for n in range(count):
            self.workers.append(self._spawn(f"worker-{n + 1}", "worker", "--concurrency", "1"))
        assert self.broker_url is not None
        control = Celery("bench", broker=self.broker_url, set_as_current=False)
        deadline = time.monotonic() + 180
        try:
            while len(control.control.ping(timeout=1.0)) < count:
                dead = [w for w in self.workers if not w.alive()]
                if dead or time.monotonic() > deadline:
                    tails = "\n".join(f"--- {w.role}\n{w.tail()}" for w in self.workers)
                    raise RuntimeError(f"workers did not come up:\n{tails}")
        finally:
            control.close()

    def processes(self) -> list[Process]:
        return [p for p in [self.serve, *self.workers] if p is not None]

    def stop(self) -> None:
        for process in [*self.workers, *([self.serve] if self.serve else [])]:
            process.stop()


@contextmanager
def deployment(
    root: Path, executor: str, broker_url: str | None, workers: int, admin_url: str = ADMIN_URL
) -> Iterator[Deployment]:
    """A running deployment (serve up, workers answering), stopped and dropped afterwards."""
    made = Deployment(root, executor, broker_url, admin_url)
    made.create_databases()
    try:
        made.start_serve()
        if workers:
            made.start_workers(workers)
        yield made
    finally:
        made.stop()
        made.drop_databases()
