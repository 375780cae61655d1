"""A real cluster on this machine: one or more `ingestd serve` and `ingestd worker` processes,
each with a data directory of its own (nothing shared but PostgreSQL and the broker), a fresh
metadata database and destination database, and a broker: a `redis-server` of the test's own
(so it can be restarted) or the machine's RabbitMQ with a queue of the test's own.

Data reaches the workers as Kusto queued ingestions of CSV blobs on a loopback HTTP server, so
every worker downloads what it loads. ``Cluster.destination_digest`` reads what the destination
holds (row count and an order-independent checksum of the rows) to compare with a clean load.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg

from tests.conftest import POSTGRES_ADMIN_URL, require_service
from tests.integration.kusto.servers import free_port

CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]
DATABASE = "sales"
TABLE = "Orders"
SECRET_KEY = "yv3nX0cSxbYyHrd3O2SFsiiXWeuXnwJ3vu-H4uAeZ0s="  # a Fernet key for tests only
STORAGE_KEY = "cluster-tests-storage-key-0123456789abcdef"


def _admin() -> str:
    return POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


def create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(_admin(), autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", str(exc).splitlines()[0])
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(_admin(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(name: str) -> str:
    return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


class BlobServer:
    """Serves registered blobs at ``/blobs/<name>`` on loopback, ``bytes_per_second`` at most
    (so a download lasts long enough to be interrupted), each answer with its length."""

    def __init__(self, bytes_per_second: int = 0) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.blobs: dict[str, bytes] = {}
        self.bytes_per_second = bytes_per_second
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.removeprefix("/blobs/")
                body = owner.blobs.get(name)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                chunk = 64 * 1024
                with suppress(OSError):
                    for start in range(0, len(body), chunk):
                        self.wfile.write(body[start : start + chunk])
                        if owner.bytes_per_second:
                            time.sleep(chunk / owner.bytes_per_second)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def put(self, name: str, data: bytes) -> str:
        self.blobs[name] = data
        return f"{self.base}/blobs/{name}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RedisBroker:
    """A redis-server of this test's own on a free port; ``restart`` loses every message (it
    keeps nothing on disk), as a crashed broker without persistence does."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require_service("Redis", "redis-server is not installed")
        self.binary = str(binary)
        self.port = free_port()
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            with suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class RabbitBroker:
    """The machine's RabbitMQ; the cluster gets a queue of its own (INGESTD_BROKER_QUEUE)."""

    url = "amqp://guest:guest@127.0.0.1:5672//"

    def __init__(self) -> None:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", 5672), timeout=2):
                pass
        except OSError as exc:
            require_service("RabbitMQ", f"nothing listens on 127.0.0.1:5672 ({exc})")

    def restart(self) -> None:
        """Stop and start the RabbitMQ application (the node stays up, as in a broker restart
        that keeps its durable queues and persistent messages)."""
        ctl = shutil.which("rabbitmqctl")
        if ctl is None:
            require_service("RabbitMQ", "rabbitmqctl is not installed: cannot restart the broker")
        for action in ("stop_app", "start_app", "await_startup"):
            done = subprocess.run([str(ctl), action], capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                require_service("RabbitMQ", f"rabbitmqctl {action} failed: {done.stderr.strip()}")

    def stop(self) -> None:
        """The queue is deleted with the cluster (see Cluster.close)."""


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

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def terminate(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@dataclass
class Cluster:
    root: Path
    broker: RedisBroker | RabbitBroker
    metadata_db: str
    destination_db: str
    blobs: BlobServer
    queue: str = field(default_factory=lambda: f"ingestd.test.{uuid.uuid4().hex[:8]}")
    extra: dict[str, str] = field(default_factory=dict)
    serves: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    key: str = ""
    url: str = ""
    _count: int = 0

    def env(self, data: Path) -> dict[str, str]:
        return {
            **os.environ,
            "INGESTD_DATA_DIR": str(data),
            "INGESTD_EXECUTOR": "celery",
            "INGESTD_BROKER_URL": self.broker.url,
            "INGESTD_BROKER_QUEUE": self.queue,
            "INGESTD_DATABASE_URL": database_url(self.metadata_db),
            "INGESTD_DESTINATION_URL": database_url(self.destination_db),
            "INGESTD_SECRET_KEY": SECRET_KEY,
            "INGESTD_KUSTO_STORAGE_KEY": STORAGE_KEY,
            "INGESTD_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",
            "INGESTD_LEASE_SECONDS": "3",
            "INGESTD_REDISPATCH_SECONDS": "5",
            "INGESTD_DISPATCH_INTERVAL_SECONDS": "0.2",
            "INGESTD_SCHEDULER_INTERVAL_SECONDS": "1",
            "INGESTD_RETRY_BASE_SECONDS": "0.2",
            "INGESTD_RETRY_MAX_ATTEMPTS": "10",
            "INGESTD_WORKERS": "1",
            **{f"INGESTD_{k.upper()}": v for k, v in self.extra.items()},
        }

    def _data(self, role: str) -> Path:
        self._count += 1
        data = self.root / f"{role}-{self._count}"
        data.mkdir(parents=True)
        return data

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args],
            env=self.env(self._data("cli")),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def _spawn(self, role: str, *args: str) -> Process:
        data = self._data(role)
        log = data / "process.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [*CLI, *args], env=self.env(data), stdout=handle, stderr=subprocess.STDOUT
        )
        handle.close()
        return Process(role, process, log)

    def start_serve(self) -> Process:
        port = free_port()
        serve = self._spawn("serve", "serve", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert serve.alive(), f"serve exited: {serve.tail()}"
            assert time.monotonic() < deadline, f"serve did not come up: {serve.tail()}"
            time.sleep(0.1)
        self.serves.append(serve)
        if not self.url:
            self.url = url
        return serve

    def start_worker(self) -> Process:
        worker = self._spawn("worker", "worker")
        self.workers.append(worker)
        return worker

    def client(self, url: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=url or self.url,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def setup_project(self) -> None:
        created = self.cli("keys", "create", "--project", "acme", "--kind", "console")
        assert created.returncode == 0, created.stderr
        self.key = created.stdout.strip().splitlines()[-1]

    def create_table(self) -> None:
        with self.client() as client:
            response = client.post(
                "/v1/rest/mgmt",
                json={
                    "db": DATABASE,
                    "csl": f".create table {TABLE} (id:long, customer:string, amount:real)",
                },
            )
            assert response.status_code == 200, response.text

    def queue_blob(self, url: str, client: httpx.Client) -> str:
        response = client.post(
            f"/v1/rest/ingestion/queued/{DATABASE}/{TABLE}",
            json={"blobs": [{"url": url}], "properties": {"format": "csv", "enableTracking": True}},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["ingestionOperationId"])

    def operation(self, client: httpx.Client, operation: str) -> dict[str, Any]:
        path = f"/v1/rest/ingestion/queued/{DATABASE}/{TABLE}/{quote(operation, safe='')}"
        response = client.get(path, params={"details": "true"})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(self, operations: list[str], timeout: float) -> list[dict[str, Any]]:
        """Poll (any live serve) until every operation has ended; their status documents."""
        deadline = time.monotonic() + timeout
        pending = list(operations)
        done: list[dict[str, Any]] = []
        while pending:
            live = next((s for s in self.serves if s.alive()), None)
            assert live is not None, "no serve process is alive"
            with self.client(self._url_of(live)) as client:
                try:
                    status = self.operation(client, pending[0])
                except httpx.TransportError:
                    time.sleep(0.2)
                    continue
            if status["status"]["InProgress"] == 0:
                done.append(status)
                pending.pop(0)
                continue
            assert time.monotonic() < deadline, (
                f"operations still in progress after {timeout:g}s: {status}\n"
                + "\n".join(f"--- {p.role} {p.pid}\n{p.tail()}" for p in self.workers)
            )
            time.sleep(0.2)
        return done

    def _url_of(self, serve: Process) -> str:
        for line in serve.tail().splitlines():
            if "serving on " in line:
                return line.split("serving on ", 1)[1].split()[0]
        return self.url

    def metadata(self) -> psycopg.Connection[Any]:
        return psycopg.connect(database_url(self.metadata_db).replace("+psycopg", ""))

    def destination_digest(self) -> tuple[int, str]:
        """Rows in the destination table and a checksum that ignores their order."""
        with psycopg.connect(database_url(self.destination_db).replace("+psycopg", "")) as conn:
            found = conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE lower(table_name) = lower(%s) AND table_schema NOT LIKE '\\_%%'",
                (TABLE,),
            ).fetchall()
            assert len(found) == 1, found
            schema, name = found[0]
            rows = conn.execute(
                f'SELECT id, customer, amount FROM "{schema}"."{name}" ORDER BY id, customer'
            ).fetchall()
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        return len(rows), digest

    def close(self) -> None:
        for process in [*self.workers, *self.serves]:
            process.kill()
        self.blobs.stop()
        self.broker.stop()
        if isinstance(self.broker, RabbitBroker):
            with suppress(Exception):
                import kombu

                with kombu.Connection(self.broker.url) as conn:
                    conn.default_channel.queue_delete(self.queue)
        drop_database(self.metadata_db)
        drop_database(self.destination_db)


def csv_blob(first_id: int, rows: int) -> bytes:
    """``rows`` CSV lines with ids from ``first_id``; every tenth amount is bad (an error row)."""
    lines = []
    for i in range(first_id, first_id + rows):
        amount = "n/a" if i % 10 == 0 else f"{i % 1000}.25"
        lines.append(f"{i},customer-{i % 97},{amount}")
    return ("\n".join(lines) + "\n").encode()


def clean_digest(first_id: int, rows: int) -> tuple[int, str]:
    """What ``Cluster.destination_digest`` reads after one clean load of
    ``csv_blob(first_id, rows)``: the good rows, each once."""
    good = [
        (i, f"customer-{i % 97}", float(f"{i % 1000}.25"))
        for i in range(first_id, first_id + rows)
        if i % 10 != 0
    ]
    good.sort(key=lambda row: (row[0], row[1]))
    return len(good), hashlib.sha256(repr(good).encode()).hexdigest()


@contextmanager
def cluster(
    root: Path, broker: str = "redis", *, blob_rate: int = 0, **extra: str
) -> Iterator[Cluster]:
    made: RedisBroker | RabbitBroker = (
        RedisBroker(root / "redis") if broker == "redis" else RabbitBroker()
    )
    metadata = create_database("ingestd_cluster_meta")
    destination = create_database("ingestd_cluster_dest")
    world = Cluster(root, made, metadata, destination, BlobServer(blob_rate), extra=dict(extra))
    try:
        yield world
    finally:
        world.close()
