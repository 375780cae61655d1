"""A Kusto client against the app in-process, with a real data directory and worker pool."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.services import Services
from tests.conftest import make_services

POLL_LIMIT_SECONDS = 60.0
"""A safety net against a hang, not a measurement: tests assert outcomes, never durations."""


@dataclass
class Kusto:
    client: TestClient
    services: Services
    key: str
    files: Path

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key if key is not None else self.key}", **extra}

    def mgmt(self, csl: str, db: str | None = "db", key: str | None = None) -> Any:
        body: dict[str, Any] = {"csl": csl}
        if db is not None:
            body["db"] = db
        return self.client.post("/v1/rest/mgmt", json=body, headers=self.headers(key))

    def rows(self, csl: str, db: str | None = "db", key: str | None = None) -> list[dict[str, Any]]:
        """The first result table of a command that must succeed, as dicts."""
        response = self.mgmt(csl, db, key)
        assert response.status_code == 200, response.text
        table = response.json()["Tables"][0]
        names = [c["ColumnName"] for c in table["Columns"]]
        return [dict(zip(names, row, strict=True)) for row in table["Rows"]]

    def queue(
        self,
        urls: list[str] | list[dict[str, Any]],
        properties: dict[str, Any] | None = None,
        *,
        table: str = "T",
        db: str = "db",
        key: str | None = None,
    ) -> Any:
        blobs = [u if isinstance(u, dict) else {"url": u} for u in urls]
        body = {"blobs": blobs, "properties": {"enableTracking": True, **(properties or {})}}
        return self.client.post(
            f"/v1/rest/ingestion/queued/{db}/{table}", json=body, headers=self.headers(key)
        )

    def status(
        self, operation: str, *, details: bool = True, table: str = "T", db: str = "db"
    ) -> Any:
        return self.client.get(
            f"/v1/rest/ingestion/queued/{db}/{table}/{quote(operation, safe='')}",
            params={"details": str(details).lower()},
            headers=self.headers(),
        )

    def drain(self) -> None:
        """Run every due unit in this thread (retries included, once their backoff passed)."""
        pool = self.services.pool(workers=1)
        deadline = time.monotonic() + POLL_LIMIT_SECONDS
        while time.monotonic() < deadline:
            if not pool.run_once():
                if not self._pending():
                    return
                time.sleep(0.02)
        raise AssertionError("units were still pending when the poll limit ran out")

    def _pending(self) -> bool:
        runs, _ = self.services.runs.list_runs(self.project(), limit=1000)
        return any(u.state.value in ("enqueued", "retrying") for r in runs for u in r.units)

    def project(self) -> int:
        return self.services.access.authenticate(self.key).project_id

    def table_rows(self, table: str = "db.T", order: str = "1") -> list[tuple[Any, ...]]:
        # The project's own table, by its physical name (docs/security/data-per-project.md).
        target = self.services.warehouse.table_sql(
            self.services.catalog.get_table(self.project(), table)
        )
        return self.services.warehouse.query(
            f"SELECT * EXCLUDE (_ingestd_load_key, _ingestd_day) FROM {target} ORDER BY {order}"
        )

    def file_url(self, name: str, content: str | bytes) -> str:
        path = self.files / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path.as_uri()


@pytest.fixture
def kusto(tmp_path: Path) -> Iterator[Kusto]:
    services = make_services(tmp_path / "data", retry_base_seconds=0.01, retry_max_attempts=2)
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    files = services.settings.data_dir / "files" / "acme"  # the project's own files
    files.mkdir(parents=True, exist_ok=True)
    with TestClient(create_app(services, background=False)) as client:
        yield Kusto(client, services, key, files)
    services.close()
