"""A native API client against the app in-process, with a real data directory, one project
(``acme``) with a key of every kind, and a file source ``orders`` loading ``shop.orders``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.domain.connections import connection_body
from ingestd.domain.origins import RunOrigin
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.services import Services
from tests.conftest import make_services

V1 = "/ingestd/v1"
ORDERS = TableSpec(
    "shop",
    "orders",
    (Column("id", ColumnType.INT64, nullable=False), Column("amount", ColumnType.INT64)),
)


@dataclass
class Native:
    client: TestClient
    services: Services
    project_id: int
    keys: dict[KeyKind, str]
    files: Path

    def call(
        self,
        method: str,
        path: str,
        kind: KeyKind | None = KeyKind.CONSOLE,
        *,
        key: str | None = None,
        body: Any = None,
        params: Any = None,
    ) -> Response:
        """``path`` below /ingestd/v1; the key of ``kind`` (or ``key``) as a bearer token."""
        sent = key if key is not None else (self.keys[kind] if kind is not None else None)
        headers = {"Authorization": f"Bearer {sent}"} if sent is not None else {}
        return self.client.request(method, V1 + path, json=body, params=params, headers=headers)

    def get(self, path: str, kind: KeyKind | None = KeyKind.CONSOLE, **params: Any) -> Response:
        return self.call("GET", path, kind, params=params or None)

    def write_day(self, day: date, text: str) -> None:
        (self.files / f"{day.isoformat()}.csv").write_text(text)

    def run(self, days: list[date], *, trigger: str = "manual", source: str = "orders") -> str:
        view = self.services.runs.start_source_run(
            self.project_id, [source], days, trigger=trigger, origin=RunOrigin.CLI
        )
        return view.id

    def drain(self) -> None:
        pool = self.services.pool(workers=1)
        while pool.run_once():
            pass


def error_of(response: Response) -> dict[str, Any]:
    """The native error envelope's ``error`` object (and a check that it is the envelope)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "hint", "field"}, body
    error: dict[str, Any] = body["error"]
    return error


def _native(data_dir: Path, database_url: str | None = None) -> Iterator[Native]:
    services = make_services(data_dir, database_url, retry_base_seconds=0.01, lease_seconds=2)
    keys = {kind: services.access.create_key("acme", kind) for kind in KeyKind}
    project_id = services.access.project_id("acme")
    files = services.settings.data_dir / "files" / "acme" / "orders"
    files.mkdir(parents=True)
    services.catalog.create_table(project_id, ORDERS)
    services.catalog.create_connection(
        project_id, "in", connection_body("file", {"root": str(files)})
    )
    services.catalog.create_source(
        project_id, name="orders", table="shop.orders", connection="in", path_template="{ds}.csv"
    )
    with TestClient(create_app(services, background=False)) as client:
        yield Native(client, services, project_id, keys, files)
    services.close()


@pytest.fixture
def native(tmp_path: Path) -> Iterator[Native]:
    """On the embedded defaults (SQLite metadata, DuckDB destination)."""
    yield from _native(tmp_path / "data")


@pytest.fixture
def native_any_store(tmp_path: Path, database_url: str) -> Iterator[Native]:
    """Once on SQLite and once on PostgreSQL metadata: for the queries that page and rank in
    SQL (runs, the status grid)."""
    yield from _native(tmp_path / "data", database_url)
