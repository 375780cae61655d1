"""The app factory: health and the shared services."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.services import Services


def test_healthz_reports_ok(services: Services) -> None:
    with TestClient(create_app(services)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
