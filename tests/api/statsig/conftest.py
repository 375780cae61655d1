"""A Statsig console client against the app in-process, with a real data directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.services import Services
from tests.conftest import make_services

EVENTS_MAPPING = {
    "unit_id": "user",
    "event_name": "event",
    "timestamp": "ts",
    "ids": {"userID": "user"},
    "metadata": {"page": "page"},
}


@dataclass
class Console:
    client: TestClient
    services: Services
    key: str
    files: Path

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"STATSIG-API-KEY": key if key is not None else self.key, **extra}

    def get(self, path: str, key: str | None = None, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers(key))

    def post(self, path: str, body: Any, key: str | None = None, **headers: str) -> Any:
        return self.client.post(path, json=body, headers=self.headers(key, **headers))

    def drain(self) -> None:
        pool = self.services.pool(workers=1)
        while pool.run_once():
            pass

    def write_day(self, day: str, rows: list[tuple[str, str, int]], name: str = "a.csv") -> None:
        folder = self.files / "events" / day
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["user,event,ts,page"] + [f"{u},{e},{t},/home" for u, e, t in rows]
        (folder / name).write_text("\n".join(lines) + "\n")

    def file_source(self, name: str = "web-events", key: str | None = None) -> Any:
        self.post("/console/v1/ingestion/connection/file", {"root": str(self.files)}, key)
        return self.post(
            "/console/v1/ingestion",
            {
                "type": "file",
                "dataset": "Events",
                "source_name": name,
                "query": "events/{ds}/*.csv",
                "column_mapping": EVENTS_MAPPING,
            },
            key,
        )


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    services = make_services(
        tmp_path / "data", retry_base_seconds=0.01, statsig_mutations_per_10s=1000
    )
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    files = services.settings.data_dir / "files" / "acme"  # the project's own files
    with TestClient(create_app(services, background=False)) as client:
        yield Console(client, services, key, files)
    services.close()
