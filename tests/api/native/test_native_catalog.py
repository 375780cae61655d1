"""Connections, tables and sources through the native API; secrets go in and never out."""

from __future__ import annotations

from ingestd.control.access import KeyKind
from tests.api.native.conftest import Native, error_of

SECRET = "s3cr3t-pa55word-never-shown"


def test_a_connection_is_created_listed_read_and_deleted_without_its_secrets(
    native: Native,
) -> None:
    body = {
        "name": "warehouse",
        "kind": "postgres",
        "config": {"host": "db.example", "port": 5432, "database": "shop", "user": "loader"},
        "secrets": {"password": SECRET},
    }
    created = native.call("POST", "/connections", body=body)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "warehouse",
        "kind": "postgres",
        "config": body["config"],
        "has_secrets": True,
    }
    listed = native.get("/connections", KeyKind.READ)
    one = native.get("/connections/warehouse", KeyKind.READ)
    assert [c["name"] for c in listed.json()["data"]] == ["in", "warehouse"]
    assert one.json()["has_secrets"] is True
    for response in (created, listed, one):
        assert SECRET not in response.text
    assert native.services.catalog.connection_secrets(native.project_id, "warehouse") == {
        "password": SECRET
    }
    twice = native.call("POST", "/connections", body=body)
    assert twice.status_code == 409
    assert error_of(twice)["code"] == "CONFLICT"
    deleted = native.call("DELETE", "/connections/warehouse")
    assert deleted.status_code == 204
    assert native.get("/connections/warehouse").status_code == 404


def test_a_connection_in_use_is_not_deleted(native: Native) -> None:
    response = native.call("DELETE", "/connections/in")
    assert response.status_code == 409
    assert "orders" in error_of(response)["message"]
    assert native.get("/connections/in").status_code == 200


def test_a_bad_connection_is_refused_with_what_to_do(native: Native) -> None:
    kind = native.call("POST", "/connections", body={"name": "x", "kind": "ftp"})
    assert kind.status_code == 400
    assert error_of(kind)["hint"] is not None and "postgres" in error_of(kind)["hint"]
    extra = native.call("POST", "/connections", body={"name": "x", "kind": "s3", "url": "s3://b"})
    assert extra.status_code == 400
    assert error_of(extra)["field"] == "url"
    read = native.call("POST", "/connections", KeyKind.READ, body={"name": "x", "kind": "s3"})
    assert read.status_code == 403
    assert [c.name for c in native.services.catalog.list_connections(native.project_id)] == ["in"]


def test_tables_and_sources_are_read(native: Native) -> None:
    tables = native.get("/tables", KeyKind.READ)
    assert tables.status_code == 200
    [table] = tables.json()["data"]
    assert table["name"] == "shop.orders"
    assert [(c["name"], c["type"], c["nullable"]) for c in table["columns"]] == [
        ("id", "int64", False),
        ("amount", "int64", True),
    ]
    assert native.get("/tables", namespace="other").json()["data"] == []
    assert native.get("/tables/shop.orders").json() == table
    missing = native.get("/tables/shop.nope")
    assert missing.status_code == 404 and error_of(missing)["code"] == "NOT_FOUND"

    [source] = native.get("/sources", KeyKind.READ).json()["data"]
    assert (source["name"], source["table"], source["connection"]) == (
        "orders",
        "shop.orders",
        "in",
    )
    assert native.get("/sources/orders").json() == source
    assert native.get("/sources/nope").status_code == 404
    assert native.get("/sources", dataset="Events").json()["data"] == []
    bad = native.get("/sources", dataset="nonsense")
    assert bad.status_code == 400 and error_of(bad)["hint"] is not None
