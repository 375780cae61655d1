"""Revoking a project's keys also ends its OAuth clients and every token minted from them."""

from __future__ import annotations

from ingestd.control.access import KeyKind
from tests.api.amperity.conftest import TENANT, Amperity
from tests.api.amperity.test_amperity_token import grant


def test_revoking_the_projects_keys_ends_its_oauth_tokens_and_clients(amperity: Amperity) -> None:
    client = amperity.services.oauth.create_client(TENANT, KeyKind.CONSOLE)
    minted = grant(amperity.client, client.client_id, client.client_secret)
    assert minted.status_code == 200
    token = minted.json()["access_token"]
    assert amperity.get("/api/workflow/runs", key=token).status_code == 200

    assert amperity.services.access.revoke_keys(TENANT) >= 1

    assert amperity.get("/api/workflow/runs", key=token).status_code == 401
    assert amperity.get("/api/workflow/runs").status_code == 401  # the console key too
    again = grant(amperity.client, client.client_id, client.client_secret)
    assert again.status_code == 401
    assert "access_token" not in again.json()


def test_revoking_one_projects_keys_leaves_another_projects_clients_working(
    amperity: Amperity,
) -> None:
    other = amperity.services.oauth.create_client("globex", KeyKind.READ)
    amperity.services.access.revoke_keys(TENANT)
    minted = amperity.client.post(
        "/api/v0/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": other.client_id,
            "client_secret": other.client_secret,
        },
        headers={"X-Amperity-Tenant": "globex"},
    )
    assert minted.status_code == 200
