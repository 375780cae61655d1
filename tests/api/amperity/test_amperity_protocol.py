"""Amperity protocol rules (API-SURFACE §2.1): bearer, tenant, version, error body, rate limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.api.rate_limit import RateLimiter
from ingestd.control.access import KeyKind
from tests.api.amperity.conftest import TENANT, VERSION, Amperity, make_app


def assert_error(response: object, status: int, *words: str) -> None:
    body = response.json()  # type: ignore[attr-defined]
    assert response.status_code == status  # type: ignore[attr-defined]
    assert set(body) == {"status", "message", "request_id"}
    assert body["status"] == status
    assert len(body["request_id"]) == 32
    for word in words:
        assert word in body["message"]


def test_a_request_without_a_bearer_is_401(amperity: Amperity) -> None:
    response = amperity.client.get(
        "/api/ingest/jobs",
        params={"created_from": "2024-10-01", "created_to": "2024-10-07"},
        headers={"amperity-tenant": TENANT, "api-version": VERSION},
    )
    assert_error(response, 401, "no bearer token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("bearer", ["Bearer nope", "Bearer oat-unknown", "Basic abc", ""])
def test_an_invalid_bearer_is_401(amperity: Amperity, bearer: str) -> None:
    headers = amperity.headers()
    headers["Authorization"] = bearer
    response = amperity.client.get("/api/workflow/runs", headers=headers)
    assert_error(response, 401)


def test_the_tenant_must_be_the_keys_project(amperity: Amperity) -> None:
    other = amperity.services.access.create_key("globex", KeyKind.CONSOLE)
    assert_error(amperity.get("/api/workflow/runs", key=other), 401, "tenant 'acme'")
    missing = amperity.headers()
    del missing["amperity-tenant"]
    assert_error(amperity.client.get("/api/workflow/runs", headers=missing), 401, "tenant")


def test_the_streaming_spelling_of_the_tenant_header_is_accepted(amperity: Amperity) -> None:
    headers = amperity.headers()
    headers["X-Amperity-Tenant"] = headers.pop("amperity-tenant")
    assert amperity.client.get("/api/workflow/runs", headers=headers).status_code == 200


def test_the_version_may_be_a_header_or_a_query_parameter(amperity: Amperity) -> None:
    headers = amperity.headers()
    del headers["api-version"]
    by_query = amperity.client.get(
        "/api/workflow/runs", params={"api_version": VERSION}, headers=headers
    )
    assert by_query.status_code == 200
    assert amperity.get("/api/workflow/runs").status_code == 200


def test_an_unsupported_version_is_400_and_a_missing_one_401(amperity: Amperity) -> None:
    # §5 item 15 [I]: unknown value → 400 (versioning page); no version at all → 401.
    wrong = amperity.client.get(
        "/api/workflow/runs", headers=amperity.headers(**{"api-version": "2023-01-01"})
    )
    assert_error(wrong, 400, "2023-01-01", VERSION)
    headers = amperity.headers()
    del headers["api-version"]
    assert_error(amperity.client.get("/api/workflow/runs", headers=headers), 401, "version")


def test_a_read_key_may_read_but_not_start_or_stop(amperity: Amperity) -> None:
    reader = amperity.services.access.create_key(TENANT, KeyKind.READ)
    assert amperity.get("/api/workflow/runs", key=reader).status_code == 200
    started = amperity.post("/api/workflow/runs", {"config_id": "customers"}, key=reader)
    assert_error(started, 403, "read key")
    stopped = amperity.post("/api/workflow/runs/wf-" + "0" * 32 + "/stop", key=reader)
    assert_error(stopped, 403)


def test_the_eleventh_request_in_a_second_is_429_with_retry_after(amperity: Amperity) -> None:
    now = [1000.0]
    limiter = RateLimiter([(10, 1.0)], clock=lambda: now[0])
    other = amperity.services.access.create_key("globex", KeyKind.READ)
    with TestClient(make_app(amperity.services, limiter=limiter)) as client:
        for _ in range(10):
            assert client.get("/api/workflow/runs", headers=amperity.headers()).status_code == 200
        refused = client.get("/api/workflow/runs", headers=amperity.headers())
        assert_error(refused, 429, "too many requests")
        assert refused.headers["Retry-After"] == "1"
        # per tenant: another tenant is not held back
        assert (
            client.get(
                "/api/workflow/runs", headers=amperity.headers(other, tenant="globex")
            ).status_code
            == 200
        )
        now[0] += 1.0
        assert client.get("/api/workflow/runs", headers=amperity.headers()).status_code == 200


def test_strict_errors_carry_only_the_openapi_fields(amperity: Amperity) -> None:
    with TestClient(make_app(amperity.services, strict_errors=True)) as client:
        response = client.get("/api/ingest/jobs/isj-nope", headers=amperity.headers())
    assert response.status_code == 404
    assert set(response.json()) == {"status", "message"}


def test_ingestd_serve_serves_the_dialect(amperity: Amperity) -> None:
    with TestClient(create_app(amperity.services, background=False)) as client:
        response = client.get("/api/workflow/runs", headers=amperity.headers())
        unknown = client.get("/api/ingest/jobs/isj-" + "a" * 32, headers=amperity.headers())
    assert response.status_code == 200 and response.json() == {"data": []}
    assert_error(unknown, 404, "does not exist")
