"""The native API limits each project's requests as the dialects do: 429 with Retry-After in
the native envelope, one budget per project that another project's keys never spend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.control.services import Services
from tests.conftest import make_services


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    services = make_services(tmp_path / "data", native_requests_per_10s=3)
    with TestClient(create_app(services, background=False)) as client:
        yield client, services
    services.close()


def test_past_the_budget_the_answer_is_429_with_retry_after(
    limited: tuple[TestClient, Services],
) -> None:
    client, services = limited
    key = services.access.create_key("acme", KeyKind.READ)
    headers = {"Authorization": f"Bearer {key}"}
    assert [client.get("/ingestd/v1/sources", headers=headers).status_code for _ in range(3)] == [
        200,
        200,
        200,
    ]
    refused = client.get("/ingestd/v1/runs", headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    error = refused.json()["error"]
    assert error["code"] == "RATE_LIMITED" and "at most 3 per 10 seconds" in error["message"]
    # Every key of the project shares the budget; another project's is its own.
    second = services.access.create_key("acme", KeyKind.CONSOLE)
    assert (
        client.get("/ingestd/v1/sources", headers={"Authorization": f"Bearer {second}"}).status_code
        == 429
    )
    other = services.access.create_key("globex", KeyKind.READ)
    other_headers = {"Authorization": f"Bearer {other}"}
    assert client.get("/ingestd/v1/sources", headers=other_headers).status_code == 200
    # No key, or a wrong one, is refused before it could spend anyone's budget.
    assert client.get("/ingestd/v1/sources").status_code == 401
    assert client.get("/ingestd/v1/readiness").status_code in (200, 503)


def test_openapi_lists_429_on_every_keyed_operation(limited: tuple[TestClient, Services]) -> None:
    client, _ = limited
    paths = client.get("/openapi.json").json()["paths"]
    keyed = [
        (path, method, operation)
        for path, methods in paths.items()
        if path.startswith("/ingestd/v1/") and path != "/ingestd/v1/readiness"
        for method, operation in methods.items()
    ]
    assert keyed
    missing = [(p, m) for p, m, op in keyed if "429" not in op.get("responses", {})]
    assert missing == []
