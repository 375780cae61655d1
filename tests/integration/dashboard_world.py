"""A served data directory for the dashboard's browser tests, and headless Chromium.

The world: project ``acme`` with source ``orders`` (files), a day whose rows partly fail
typing (quarantined), a day whose file is missing (failed), a Kusto table ``db.T``, and a
local HTTP server whose blobs stall: one until the test releases it, one until it ends.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingestd.control.access import KeyKind
from ingestd.domain.connections import connection_body
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef
from ingestd.domain.origins import RunOrigin
from ingestd.domain.tables import Column, ColumnType, TableSpec
from tests.conftest import make_services, require_service
from tests.integration.serving import Server, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
GOOD, MISSING = date(2026, 1, 5), date(2026, 1, 6)
ORDERS = TableSpec(
    "shop",
    "orders",
    (Column("id", ColumnType.INT64, nullable=False), Column("amount", ColumnType.INT64)),
)
WAIT_SECONDS = 60.0
"""A safety net against a hang, not a measurement."""


def artifacts() -> Path:
    """Where screenshots go: ``$INGESTD_TEST_ARTIFACTS``, else ``tests/artifacts``."""
    given = os.environ.get("INGESTD_TEST_ARTIFACTS")
    root = Path(given) if given else Path(__file__).resolve().parents[1] / "artifacts"
    root.mkdir(parents=True, exist_ok=True)
    return root


def require_browser() -> None:
    """Skip (or fail under CI=true) without Debian's chromium or playwright."""
    if not CHROMIUM.exists():
        require_service("Chromium", f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        require_service("playwright", f"{exc} (pip install -e '.[dev]')")


@dataclass
class StallServer:
    """Blobs over HTTP: ``/gated.csv`` sends one row, then the rest once ``release`` is set;
    ``/endless.csv`` streams rows until the server stops (or the client hangs up)."""

    url: str
    release: threading.Event
    stop: threading.Event
    served: list[str] = field(default_factory=list)


@contextmanager
def stall_server() -> Iterator[StallServer]:
    release, stop = threading.Event(), threading.Event()
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                if self.path.startswith("/gated"):
                    self._chunk(b"ann,1\n")
                    while not release.wait(0.2) and not stop.is_set():
                        self._chunk(b"")  # nothing yet; keeps the download reading
                    self._chunk(b"bob,2\ncid,3\n")
                else:
                    # The download checks for a cancel between 1 MiB chunks: send that much
                    # every second or so, or a cancel would wait for the fetch timeout.
                    rows = b"zed,9\n" * 20_000
                    while not stop.wait(0.1):
                        self._chunk(rows)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the download was canceled

        def _chunk(self, data: bytes) -> None:
            if data:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StallServer(f"http://127.0.0.1:{server.server_address[1]}", release, stop, served)
    finally:
        stop.set()
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class World:
    server: Server
    read_key: str
    stall: StallServer
    data: Path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.server.key}"}
        return httpx.request(method, self.server.url + path, headers=headers, timeout=30, **kwargs)

    def wait_run(self, run_id: str, *states: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            run: dict[str, Any] = self.api("GET", f"/ingestd/v1/runs/{run_id}").json()
            if run.get("state") in states:
                return run
            assert time.monotonic() < deadline, f"run {run_id} stayed {run.get('state')}"
            time.sleep(0.2)

    def queue_blob(self, url: str) -> str:
        body = {"blobs": [{"url": url}], "properties": {"enableTracking": True, "format": "csv"}}
        response = self.api("POST", "/v1/rest/ingestion/queued/db/T", json=body)
        assert response.status_code == 200, response.text
        return str(response.json()["ingestionOperationId"]).rsplit(";", 1)[1]

    def fix_orders(self) -> None:
        """The fix the quarantined rows wait for: a float column the amount maps to (in the
        metadata, which the server reads on every unit)."""
        services = make_services(self.data)
        project = services.access.project_id("acme")
        services.catalog.create_table(
            project,
            TableSpec(
                "shop", "orders", (Column("amount_exact", ColumnType.FLOAT64), *ORDERS.columns)
            ),
            merge=True,
        )
        services.catalog.update_source(
            project,
            "orders",
            mapping=Mapping(
                (
                    FieldMapping("id", SourceRef(RefKind.COLUMN, "id")),
                    FieldMapping("amount_exact", SourceRef(RefKind.COLUMN, "amount")),
                )
            ),
        )
        services.store.dispose()


def _prepare(data: Path) -> tuple[str, list[str]]:
    """The metadata before serving: the source, its files, two runs waiting; a read key."""
    services = make_services(data)
    read_key = services.access.create_key("acme", KeyKind.READ)
    project = services.access.project_id("acme")
    files = data / "files" / "acme" / "orders"
    files.mkdir(parents=True)
    (files / f"{GOOD.isoformat()}.csv").write_text("id,amount\n1,10\n2,10.5\n3,x\n4,7\n")
    services.catalog.create_table(project, ORDERS)
    services.catalog.create_connection(project, "in", connection_body("file", {"root": str(files)}))
    services.catalog.create_source(
        project, name="orders", table="shop.orders", connection="in", path_template="{ds}.csv"
    )
    runs = [
        services.runs.start_source_run(
            project, ["orders"], [day], trigger="manual", origin=RunOrigin.CLI
        ).id
        for day in (GOOD, MISSING)
    ]
    services.store.dispose()
    return read_key, runs


@contextmanager
def world(tmp: Path) -> Iterator[World]:
    data = tmp / "data"
    read_key, runs = _prepare(data)
    with (
        stall_server() as stall,
        serving(
            data, fetch_allowed_networks="127.0.0.0/8", lease_seconds="3", workers="1"
        ) as server,
    ):
        found = World(server, read_key, stall, data)
        for run in runs:
            found.wait_run(run, "succeeded", "failed", "partially_succeeded")
        made = found.api(
            "POST",
            "/v1/rest/mgmt",
            json={"db": "db", "csl": ".create table T (name:string, n:long)"},
        )
        assert made.status_code == 200, made.text
        try:
            yield found
        finally:
            # End the stalled blobs before the server stops: it waits for its units.
            stall.stop.set()
            stall.release.set()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium driven by playwright (no browser download)."""
    require_browser()
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as driver:
        try:
            browser = driver.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            require_service("Chromium", str(exc).splitlines()[0])
        try:
            yield browser
        finally:
            browser.close()
