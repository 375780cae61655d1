"""An Amperity client against the dialect in-process, with a real data directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from ingestd.api.amperity.deps import configure
from ingestd.api.amperity.router import router
from ingestd.api.rate_limit import RateLimiter
from ingestd.control.access import KeyKind
from ingestd.control.catalog import SourceView
from ingestd.domain.connections import connection_body
from ingestd.domain.sources import LoadMode, ReadOptions
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.services import Services
from tests.conftest import make_services

TENANT = "acme"
VERSION = "2024-04-01"
CUSTOMERS = TableSpec(
    "crm",
    "customers",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("age", ColumnType.INT64),
    ),
    primary_key=("id",),
)


@dataclass
class Amperity:
    client: TestClient
    services: Services
    project_id: int
    key: str
    """A console key of tenant ``acme``."""

    @property
    def files(self) -> Path:
        return self.services.settings.data_dir / "files" / TENANT  # the project's own files

    def headers(self, key: str | None = None, tenant: str = TENANT, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {key if key is not None else self.key}",
            "amperity-tenant": tenant,
            "api-version": VERSION,
            **extra,
        }

    def get(self, path: str, key: str | None = None, **params: Any) -> Response:
        return self.client.get(path, params=params, headers=self.headers(key))

    def post(self, path: str, body: Any = None, key: str | None = None) -> Response:
        return self.client.post(path, json=body, headers=self.headers(key))

    def jobs(self, key: str | None = None, **params: Any) -> Response:
        """``GET /api/ingest/jobs`` over the two days around now (unless a window is given)."""
        now = datetime.now(UTC)
        params.setdefault("created_from", (now - timedelta(days=1)).isoformat())
        params.setdefault("created_to", (now + timedelta(days=1)).isoformat())
        return self.get("/api/ingest/jobs", key, **params)

    def drain(self) -> None:
        pool = self.services.pool(workers=1)
        while pool.run_once():
            pass

    def write(self, day: str, lines: list[str], name: str = "part0.csv") -> None:
        folder = self.files / "customers" / day
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("\n".join(["id,name,age", *lines]) + "\n")

    def customers_feed(self, mode: LoadMode = LoadMode.UPSERT) -> SourceView:
        """Source ``customers``: ``customers/{ds}/*.csv`` into crm.customers (key ``id``)."""
        catalog = self.services.catalog
        catalog.create_table(self.project_id, CUSTOMERS, merge=True)
        catalog.create_connection(
            self.project_id,
            "files",
            connection_body("file", {"root": str(self.files)}),
            replace=True,
        )
        return catalog.create_source(
            self.project_id,
            name="customers",
            table="crm.customers",
            connection="files",
            path_template="customers/{ds}/*.csv",
            read_options=ReadOptions(),
            load_mode=mode,
        )


def make_app(services: Services, **router_options: Any) -> FastAPI:
    """The dialect alone, with a rate limit no test reaches unless it passes its own."""
    router_options.setdefault("limiter", RateLimiter([(100_000, 1.0)]))
    app = FastAPI()
    app.state.services = services
    configure(app, services, **router_options)
    app.include_router(router)
    return app


@pytest.fixture
def amperity(tmp_path: Path) -> Iterator[Amperity]:
    services = make_services(tmp_path / "data", retry_base_seconds=0.01)
    key = services.access.create_key(TENANT, KeyKind.CONSOLE)
    project_id = services.access.project_id(TENANT)
    with TestClient(make_app(services)) as client:
        yield Amperity(client, services, project_id, key)
    services.close()
