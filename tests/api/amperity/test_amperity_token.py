"""POST /api/v0/oauth2/token (API-SURFACE §2.1, A7): client credentials → a short-lived bearer."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingestd.control.access import KeyKind
from ingestd.control.amperity.oauth import OAuth
from tests.api.amperity.conftest import TENANT, Amperity, make_app
from tests.conftest import make_services

TOKEN = "/api/v0/oauth2/token"


def grant(client: TestClient, client_id: str, secret: str, **extra: str) -> Any:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return client.post(TOKEN, data={**form, **extra}, headers={"X-Amperity-Tenant": TENANT})


def with_token(amperity: Amperity, token: str) -> dict[str, str]:
    return amperity.headers(token)


def test_a_client_gets_a_bearer_token_that_works(amperity: Amperity) -> None:
    client = amperity.services.oauth.create_client(TENANT, KeyKind.READ)
    response = grant(amperity.client, client.client_id, client.client_secret)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert (body["expires_in"], body["token_type"]) == (3600, "Bearer")
    assert response.headers["Cache-Control"] == "no-store"
    token = body["access_token"]
    assert amperity.get("/api/workflow/runs", key=token).status_code == 200
    # the token carries its client's kind: a read client may not start anything
    assert amperity.post("/api/workflow/runs", {"config_id": "x"}, key=token).status_code == 403


def test_json_bodies_and_basic_client_auth_are_accepted(amperity: Amperity) -> None:
    client = amperity.services.oauth.create_client(TENANT, KeyKind.INGEST)
    by_json = amperity.client.post(
        TOKEN,
        json={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
        },
    )
    assert by_json.status_code == 200
    basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
    by_basic = amperity.client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert by_basic.status_code == 200


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"client_secret": "wrong"}, 401),
        ({"client_id": "oac-unknown"}, 401),
        ({"grant_type": "password"}, 400),
        ({"client_secret": ""}, 400),
    ],
)
def test_bad_credentials_are_refused(
    amperity: Amperity, change: dict[str, str], status: int
) -> None:
    client = amperity.services.oauth.create_client(TENANT, KeyKind.READ)
    form = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        **change,
    }
    response = amperity.client.post(TOKEN, data=form)
    assert response.status_code == status
    assert response.json()["status"] == status
    assert "access_token" not in response.json()


def test_a_client_of_another_tenant_is_refused(amperity: Amperity) -> None:
    client = amperity.services.oauth.create_client("globex", KeyKind.READ)
    assert grant(amperity.client, client.client_id, client.client_secret).status_code == 401


def test_an_expired_token_is_401(amperity: Amperity) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    oauth = OAuth(
        amperity.services.store, amperity.services.access, token_seconds=60, clock=lambda: now[0]
    )
    client = oauth.create_client(TENANT, KeyKind.READ)
    with TestClient(make_app(amperity.services, oauth=oauth)) as http:
        body = grant(http, client.client_id, client.client_secret).json()
        assert body["expires_in"] == 60
        headers = with_token(amperity, body["access_token"])
        assert http.get("/api/workflow/runs", headers=headers).status_code == 200
        now[0] += timedelta(seconds=60)
        expired = http.get("/api/workflow/runs", headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]


def test_revoking_a_client_ends_its_tokens(amperity: Amperity) -> None:
    oauth = amperity.services.oauth
    client = oauth.create_client(TENANT, KeyKind.READ)
    token = grant(amperity.client, client.client_id, client.client_secret).json()["access_token"]
    oauth.revoke_client(client.client_id)
    assert amperity.get("/api/workflow/runs", key=token).status_code == 401
    assert grant(amperity.client, client.client_id, client.client_secret).status_code == 401


def test_the_cli_creates_a_client_and_prints_the_secret_last(
    amperity: Amperity, tmp_path: Path
) -> None:
    data_dir = tmp_path / "cli-data"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ingestd.cli.main import run; run()",
            "oauth",
            "create-client",
            "--project",
            TENANT,
            "--kind",
            "ingest",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "INGESTD_DATA_DIR": str(data_dir)},
        timeout=120,
        check=True,
    )
    lines = result.stdout.rstrip("\n").splitlines()
    client_id = lines[-2].removeprefix("client_id: ")
    secret = lines[-1]
    assert client_id.startswith("oac-") and " " not in secret and len(secret) > 30
    services = make_services(data_dir)
    try:
        issued = services.oauth.issue_token(client_id, secret, tenant=TENANT)
        assert services.oauth.authenticate(issued.access_token).kind is KeyKind.INGEST
    finally:
        services.close()
