"""Projects and keys: a key sees its own project; a console key manages its project's keys."""

from __future__ import annotations

from ingestd.control.access import KeyKind
from tests.api.native.conftest import Native, error_of


def test_a_key_lists_only_its_own_project(native: Native) -> None:
    native.services.access.create_key("other", KeyKind.CONSOLE)
    listed = native.get("/projects", KeyKind.READ)
    assert listed.status_code == 200, listed.text
    assert [p["name"] for p in listed.json()["data"]] == ["acme"]
    assert native.get("/projects/acme", KeyKind.READ).json()["name"] == "acme"
    other = native.get("/projects/other", KeyKind.READ)
    assert other.status_code == 404
    assert error_of(other)["code"] == "NOT_FOUND"


def test_no_route_creates_a_project(native: Native) -> None:
    """Projects are made by an operator on the server (``ingestd keys create``), not by keys."""
    response = native.call("POST", "/projects", body={"name": "mine"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert error_of(response)["code"] == "METHOD_NOT_ALLOWED"
    assert native.services.access.list_projects() == ["acme"]


def test_a_console_key_creates_lists_and_revokes_keys(native: Native) -> None:
    created = native.call("POST", "/keys", body={"kind": "read"})
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["kind"] == "read" and new["project"] == "acme"
    assert new["key"].startswith(new["prefix"])
    assert native.call("GET", "/sources", key=new["key"]).status_code == 200

    listed = native.get("/keys")
    assert listed.status_code == 200
    assert new["prefix"] in [k["prefix"] for k in listed.json()["data"]]
    for key in [*native.keys.values(), new["key"]]:
        assert key not in listed.text  # prefixes only, never a key

    revoked = native.call("DELETE", f"/keys/{new['prefix']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    refused = native.call("GET", "/sources", key=new["key"])
    assert refused.status_code == 401
    assert error_of(refused)["code"] == "AUTHENTICATION_REQUIRED"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert new["prefix"] not in [k["prefix"] for k in native.get("/keys").json()["data"]]
    with_revoked = native.get("/keys", revoked="true").json()["data"]
    assert new["prefix"] in [k["prefix"] for k in with_revoked]
    again = native.call("DELETE", f"/keys/{new['prefix']}")
    assert again.status_code == 404


def test_only_console_keys_manage_keys(native: Native) -> None:
    for kind in (KeyKind.READ, KeyKind.INGEST):
        response = native.call("POST", "/keys", kind, body={"kind": "console"})
        assert response.status_code == 403, response.text
        assert error_of(response)["code"] == "FORBIDDEN"
        assert native.call("GET", "/keys", kind).status_code == 403
    assert (
        len(
            native.services.access.list_keys(native.services.access.project_name(native.project_id))
        )
        == 3
    )


def test_a_key_body_with_an_unknown_field_or_kind_names_the_field(native: Native) -> None:
    unknown = native.call("POST", "/keys", body={"kind": "read", "project": "other"})
    assert unknown.status_code == 400
    error = error_of(unknown)
    assert (error["code"], error["field"]) == ("VALIDATION_ERROR", "project")
    bad_kind = native.call("POST", "/keys", body={"kind": "admin"})
    assert bad_kind.status_code == 400
    assert error_of(bad_kind)["field"] == "kind"
    assert (
        len(
            native.services.access.list_keys(native.services.access.project_name(native.project_id))
        )
        == 3
    )


def test_the_statsig_header_carries_a_key_too(native: Native) -> None:
    response = native.client.get(
        "/ingestd/v1/projects", headers={"STATSIG-API-KEY": native.keys[KeyKind.READ]}
    )
    assert response.status_code == 200
    missing = native.get("/projects", None)
    assert missing.status_code == 401
    assert error_of(missing)["code"] == "AUTHENTICATION_REQUIRED"
