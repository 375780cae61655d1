"""Fixtures for the Kusto dialect against real storage servers on loopback.

Servers are started once per session on free 127.0.0.1 ports and stopped at its end. A guard
refuses, in this test process, any TCP connection to an address outside loopback: the SSRF
tests ask ingestd to fetch from private and metadata addresses, and if a check ever failed the
guard (not the network) would be what stops the connection.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.domain.connections import connection_body
from ingestd.executor.pool import WorkerPool
from tests.api.kusto.conftest import POLL_LIMIT_SECONDS, Kusto
from tests.conftest import make_services, require_service
from tests.integration.kusto.servers import (
    AzureServer,
    GcsServer,
    HttpServer,
    S3Server,
    Unavailable,
    start_azurite,
    start_gcs,
    start_http,
    start_moto,
)

BUCKET = "bucket"
CONTAINER = "blobs"
GOOD_ROWS = [("a", 1), ("b", 2), ("c", 3)]
CSV_WITH_ONE_BAD_ROW = "a,1\nb,2\nbad,not-a-number\nc,3\n"
"""Three good rows and one whose ``n`` is not a long: it goes to quarantine."""


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    original = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0]).split("%", 1)[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise OSError(f"test guard: no connection to {host} outside loopback")
        original(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="session")
def http_blobs() -> Iterator[HttpServer]:
    server = start_http()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    try:
        server = start_moto()
    except Unavailable as exc:
        require_service("moto S3 server", str(exc))
        raise
    server.bucket(BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureServer]:
    try:
        server = start_azurite(tmp_path_factory.mktemp("azurite"))
    except Unavailable as exc:
        require_service("Azurite", str(exc))
        raise
    server.container(CONTAINER)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs() -> Iterator[GcsServer]:
    try:
        server = start_gcs()
    except Unavailable as exc:
        require_service("GCS emulator", str(exc))
        raise
    yield server
    server.stop()


@dataclass
class Env(Kusto):
    """A Kusto client whose blobs are loaded by a running pool of two workers."""

    pool: WorkerPool
    project_id: int

    def create_table(self, table: str = "T") -> None:
        self.rows(f".create table {table} (name:string, n:long)")

    def connection(self, name: str, kind: str, config: dict[str, Any], **secrets: str) -> None:
        self.services.catalog.create_connection(
            self.project_id, name, connection_body(kind, config, secrets)
        )

    def submit(self, urls: list[str], properties: dict[str, Any] | None = None) -> str:
        response = self.queue(urls, {"format": "csv", **(properties or {})})
        assert response.status_code == 200, response.text
        operation = response.json()["ingestionOperationId"]
        assert isinstance(operation, str) and operation
        return operation

    def wait(self, operation: str, table: str = "T") -> dict[str, Any]:
        """Poll the status endpoint until no blob is in progress; the details body."""
        deadline = time.monotonic() + POLL_LIMIT_SECONDS
        while True:
            response = self.status(operation, table=table)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            assert sum(body["status"].values()) == len(body["details"])
            if body["status"]["InProgress"] == 0:
                return body
            assert time.monotonic() < deadline, f"still in progress: {body}"
            time.sleep(0.05)

    def quarantined(self) -> list[tuple[Any, ...]]:
        return self.services.warehouse.query(
            "SELECT file, code, raw FROM _ingestd.quarantine ORDER BY file, record"
        )


def make_env(tmp_path: Path, **settings: Any) -> Iterator[Env]:
    overrides: dict[str, Any] = {
        "retry_base_seconds": 0.01,
        "retry_max_attempts": 2,
        "fetch_allowed_networks": "127.0.0.0/8",
        "fetch_timeout_seconds": 1.0,
        "file_roots": str(tmp_path / "files"),
        **settings,
    }
    services = make_services(tmp_path / "data", **overrides)
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    files = tmp_path / "files"
    files.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool(
        services.runs,
        services.runner(),
        workers=2,
        lease_seconds=services.settings.lease_seconds,
        idle_seconds=0.05,
    )
    with TestClient(create_app(services, background=False)) as client:
        pool.start()
        try:
            project_id = services.access.authenticate(key).project_id
            yield Env(client, services, key, files, pool, project_id)
        finally:
            pool.stop()
    services.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from make_env(tmp_path)
