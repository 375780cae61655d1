"""A refused credential is never echoed back, in any dialect: not a wrong key, not a revoked
real key, not an OAuth client secret or a bearer token (issue #11 item 4: secrets never in an
answer). Statsig's vendor 401 names the key it refused (API-SURFACE §1.1); ingestd shows only
the key's kind."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.services import Services
from tests.conftest import make_services

AMPERITY = {"amperity-tenant": "acme", "api-version": "2024-04-01"}


@dataclass
class World:
    client: TestClient
    services: Services
    revoked: str
    """A real console key of project acme, revoked."""
    wrong: str
    """A key-shaped string that was never a key."""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    services = make_services(tmp_path / "data")
    revoked = services.access.create_key("acme", KeyKind.CONSOLE)
    services.access.create_key("acme", KeyKind.INGEST)  # acme keeps a live key
    services.access.revoke_keys("acme")
    with TestClient(create_app(services, background=False)) as client:
        yield World(client, services, revoked, "console-" + "Qx7" * 14)
    services.close()


def _leaks(response: Response, secret: str) -> list[str]:
    """Where ``secret`` (or its secret half, after the kind prefix) shows in an answer."""
    tail = secret.partition("-")[2] or secret
    places = [("body", response.text)] + [(f"header {k}", v) for k, v in response.headers.items()]
    return [where for where, text in places if secret in text or tail[:12] in text]


@pytest.mark.parametrize("which", ["revoked", "wrong"])
def test_statsig_401_names_the_kind_of_key_only(world: World, which: str) -> None:
    key = getattr(world, which)
    response = world.client.get("/console/v1/ingestion/runs", headers={"STATSIG-API-KEY": key})

    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "message": "This endpoint only accepts an active CONSOLE key, but an invalid key was "
        "sent. Key: console-***",
    }
    assert _leaks(response, key) == []


def test_statsig_401_for_a_key_without_a_known_kind(world: World) -> None:
    secret = "sk_live_" + "Zq9" * 12
    response = world.client.get("/console/v1/ingestion/runs", headers={"STATSIG-API-KEY": secret})

    assert response.status_code == 401
    assert response.json()["message"].endswith("Key: ***")
    assert _leaks(response, secret) == []


@pytest.mark.parametrize("which", ["revoked", "wrong"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/ingest/jobs", None),
        ("POST", "/v1/rest/mgmt", {"csl": ".show tables", "db": "db"}),
        (
            "POST",
            "/v1/rest/ingestion/queued/db/T",
            {"blobs": [{"url": "file:///x.csv"}], "properties": {}},
        ),
    ],
    ids=["amperity", "kusto-mgmt", "kusto-queued"],
)
def test_amperity_and_kusto_401s_do_not_echo_the_bearer(
    world: World, which: str, method: str, path: str, body: dict[str, object] | None
) -> None:
    key = getattr(world, which)
    headers = {"Authorization": f"Bearer {key}", **AMPERITY}
    response = world.client.request(method, path, headers=headers, json=body)

    assert response.status_code == 401
    assert _leaks(response, key) == []


def test_amperity_token_refusal_does_not_echo_the_client_secret(world: World) -> None:
    client = world.services.oauth.create_client("acme", KeyKind.CONSOLE)
    world.services.oauth.revoke_client(client.client_id)
    form = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
    }
    as_form = world.client.post("/api/v0/oauth2/token", data=form, headers=AMPERITY)
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    as_basic = world.client.post(
        "/api/v0/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}", **AMPERITY},
    )

    for response in (as_form, as_basic):
        assert response.status_code == 401
        assert _leaks(response, client.client_secret) == []
