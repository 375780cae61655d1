"""``Access`` and ``OAuth`` over the SQLite project repository: keys authenticate as their
own project only, use is recorded to the minute, and revoking a project's keys leaves it no
credential (its OAuth clients and their tokens end with them)."""

from __future__ import annotations

import pytest

from ingestd.control.access import Access, KeyKind
from ingestd.control.amperity.oauth import OAuth
from ingestd.errors import InvalidInput, NotFound, Unauthenticated
from ingestd.store.database import Store
from tests.unit.control.conftest import START, SteppedClock


def test_a_key_authenticates_as_its_project_and_its_use_is_kept_to_the_minute(
    store: Store, clock: SteppedClock
) -> None:
    access = Access(store, clock=clock)
    acme = access.create_key("acme", KeyKind.INGEST)
    rival = access.create_key("rival", KeyKind.READ)
    who = access.authenticate(acme)
    assert (who.project, who.kind, who.project_id) == (
        "acme",
        KeyKind.INGEST,
        access.project_id("acme"),
    )
    assert access.authenticate(rival).project == "rival"
    with pytest.raises(Unauthenticated):
        access.authenticate(acme[:-1] + ("x" if acme[-1] != "x" else "y"))

    assert [k.last_used_at for k in access.list_keys("acme")] == [START]
    clock.advance(seconds=30)
    access.authenticate(acme)
    assert [k.last_used_at for k in access.list_keys("acme")] == [START]
    clock.advance(seconds=31)
    access.authenticate(acme)
    assert [k.last_used_at for k in access.list_keys("acme")] == [clock.now]
    assert access.list_projects() == ["acme", "rival"]
    assert access.project(access.project_id("rival")).name == "rival"
    with pytest.raises(NotFound):
        access.project_id("nobody")


def test_revoking_by_prefix_needs_one_match_and_ends_that_key(
    store: Store, clock: SteppedClock
) -> None:
    access = Access(store, clock=clock)
    first = access.create_key("acme", KeyKind.CONSOLE)
    second = access.create_key("acme", KeyKind.CONSOLE)
    with pytest.raises(InvalidInput, match="prefix of 2 active keys"):
        access.revoke_key("console-")
    revoked = access.revoke_key(first[:16], "acme")
    assert revoked.revoked_at == START
    with pytest.raises(Unauthenticated):
        access.authenticate(first)
    assert access.authenticate(second).project == "acme"
    assert len(access.list_keys("acme", revoked=True)) == 2
    assert len(access.list_keys("acme")) == 1


def test_revoking_a_projects_keys_ends_its_oauth_clients_and_tokens(
    store: Store, clock: SteppedClock
) -> None:
    access = Access(store, clock=clock)
    oauth = OAuth(store, access, token_seconds=600, clock=clock)
    key = access.create_key("acme", KeyKind.CONSOLE)
    other = access.create_key("rival", KeyKind.CONSOLE)
    client = oauth.create_client("acme", KeyKind.INGEST)
    token = oauth.issue_token(client.client_id, client.client_secret, tenant="acme")
    assert oauth.authenticate_bearer(token.access_token).kind == KeyKind.INGEST
    with pytest.raises(Unauthenticated, match="does not belong to tenant 'rival'"):
        oauth.issue_token(client.client_id, client.client_secret, tenant="rival")
    with pytest.raises(Unauthenticated, match="client credentials are not valid"):
        oauth.issue_token(client.client_id, "wrong secret")

    assert access.revoke_keys("acme") == 1
    for credential in (key, token.access_token):
        with pytest.raises(Unauthenticated):
            oauth.authenticate_bearer(credential)
    with pytest.raises(Unauthenticated, match="client credentials are not valid"):
        oauth.issue_token(client.client_id, client.client_secret)
    assert oauth.authenticate_bearer(other).project == "rival"


def test_a_token_works_until_it_expires(store: Store, clock: SteppedClock) -> None:
    access = Access(store, clock=clock)
    oauth = OAuth(store, access, token_seconds=600, clock=clock)
    client = oauth.create_client("acme", KeyKind.READ)
    token = oauth.issue_token(client.client_id, client.client_secret).access_token
    clock.advance(seconds=599)
    assert oauth.authenticate(token).project == "acme"
    clock.advance(seconds=1)
    with pytest.raises(Unauthenticated, match="expired at 2026-03-01T12:10:00Z"):
        oauth.authenticate(token)
    oauth.revoke_client(client.client_id)
    with pytest.raises(Unauthenticated, match="client was revoked"):
        oauth.authenticate(token)
    with pytest.raises(NotFound):
        oauth.revoke_client("oac-nobody")
