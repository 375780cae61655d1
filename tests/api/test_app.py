"""The app factory: health and the shared services."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.services import Services


def test_healthz_reports_ok(services: Services) -> None:
    with TestClient(create_app(services)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_unknown_paths_answer_in_their_dialects_envelope(services: Services) -> None:
    with TestClient(create_app(services, background=False)) as client:
        statsig = client.get("/console/v1/nope")
        amperity = client.get("/api/ingest/nope")
        kusto = client.get("/v1/rest/nope")
        wrong_method = client.put("/console/v1/ingestion/runs")
        other = client.get("/nope")
    assert statsig.status_code == 404 and statsig.json()["status"] == 404
    assert amperity.status_code == 404 and set(amperity.json()) >= {"status", "message"}
    assert kusto.status_code == 404 and "error" in kusto.json()
    assert wrong_method.status_code == 405 and wrong_method.json()["status"] == 405
    assert other.status_code == 404 and "detail" not in other.json()
