"""GET /ingestd/v1/sources/{name}/preview: the first records of a source's day, typed and
validated, for a read key; nothing is committed anywhere; other projects see nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import MetaData, select

from ingestd.control.access import KeyKind
from tests.api.native.conftest import ORDERS, Native, error_of

LOADED, PREVIEWED = date(2026, 1, 5), date(2026, 1, 6)
MARKER = "zq-preview-marker"


def _metadata(native: Native) -> dict[str, list[Any]]:
    """Every metadata row but the keys' (a key's use is recorded when it is used)."""
    tables = MetaData()
    engine = native.services.store.engine
    tables.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted(map(repr, conn.execute(select(table)).all()))
            for name, table in tables.tables.items()
            if name != "api_keys"
        }


def _destination(native: Native) -> list[Any]:
    return native.services.warehouse.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "ORDER BY table_schema, table_name"
    )


def test_a_read_key_previews_typed_rows_and_errors(native: Native) -> None:
    native.write_day(PREVIEWED, f"id,amount\n1,10\n2,x\n3,{MARKER}\n4,7\n5,8\n")
    response = native.get("/sources/orders/preview", KeyKind.READ, day="2026-01-06", limit=4)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "orders" and body["table"] == "shop.orders"
    assert body["day"] == "2026-01-06"
    assert body["columns"] == [
        {"name": "id", "type": "BIGINT"},
        {"name": "amount", "type": "BIGINT"},
    ]
    assert body["rows"] == [[1, 10], [4, 7]]
    assert [(e["record"], e["field"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "amount", 2, "TYPE_MISMATCH"),
        (3, "amount", 2, "TYPE_MISMATCH"),
    ]
    assert body["errors"][0]["file"] == "2026-01-06.csv"
    assert MARKER in body["errors"][1]["raw"]
    assert (body["files"], body["rows_read"], body["truncated"]) == (["2026-01-06.csv"], 4, True)


def test_a_preview_with_errors_commits_nothing(native: Native) -> None:
    native.write_day(LOADED, "id,amount\n1,10\n2,x\n")
    native.run([LOADED])
    native.drain()
    native.write_day(PREVIEWED, "id,amount\n7,70\n8,bad\n9,90\n")
    before = (_metadata(native), _destination(native))
    quarantined = native.get("/quarantine").json()["total"]
    rows = native.services.warehouse.query(f"SELECT count(*) FROM {_orders(native)}")
    response = native.get("/sources/orders/preview", day="2026-01-06")
    assert response.status_code == 200 and len(response.json()["errors"]) == 1
    assert (_metadata(native), _destination(native)) == before
    assert native.get("/quarantine").json()["total"] == quarantined == 1
    assert native.services.warehouse.query(f"SELECT count(*) FROM {_orders(native)}") == rows
    assert (native.files / "2026-01-06.csv").read_text() == "id,amount\n7,70\n8,bad\n9,90\n"
    staging = native.services.settings.data_dir / "staging"
    assert not [p for p in staging.glob("preview*")]


def _orders(native: Native) -> str:
    table = native.services.catalog.get_table(native.project_id, "shop.orders")
    return native.services.warehouse.table_sql(table)


def test_another_projects_key_gets_404_and_no_rows(native: Native) -> None:
    native.write_day(PREVIEWED, f"id,amount\n1,{MARKER}\n")
    other = native.services.access.create_key("other", KeyKind.CONSOLE)
    response = native.call(
        "GET", "/sources/orders/preview", key=other, params={"day": "2026-01-06"}
    )
    assert response.status_code == 404, response.text
    assert error_of(response)["code"] == "NOT_FOUND"
    assert MARKER not in response.text


def test_bad_input_is_refused_in_the_envelope(native: Native) -> None:
    native.write_day(PREVIEWED, "id,amount\n1,1\n")
    for params in ({"day": "2026-01-06", "limit": 0}, {"day": "2026-01-06", "limit": 1001}, {}):
        response = native.call("GET", "/sources/orders/preview", params=params)
        assert response.status_code == 400, (params, response.text)
        assert error_of(response)["code"] == "VALIDATION_ERROR"
    unknown = native.get("/sources/nope/preview", day="2026-01-06")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "NOT_FOUND"
    no_file = native.get("/sources/orders/preview", day="2026-02-01")
    assert no_file.status_code == 422, no_file.text
    error = error_of(no_file)
    assert error["code"] == "PREVIEW_FAILED"
    assert "SOURCE_NOT_FOUND" in error["message"] and "2026-02-01" in error["message"]
    assert native.get("/sources/orders/preview", None, day="2026-01-06").status_code == 401


def test_a_source_definition_is_previewed_before_it_is_saved(native: Native) -> None:
    native.write_day(PREVIEWED, "n,amt\n1,10\n2,x\n")
    body = {
        "table": "shop.orders",
        "connection": "in",
        "path_template": "{ds}.csv",
        "mapping": [
            {"Column": "id", "Properties": {"Ordinal": "0"}},
            {"Column": "amount", "Properties": {"Ordinal": "1"}},
        ],
        "read_options": {"format": "csv"},
        "day": "2026-01-06",
        "limit": 5,
    }
    refused = native.call("POST", "/sources/preview", KeyKind.READ, body=body)
    assert refused.status_code == 403
    response = native.call("POST", "/sources/preview", body=body)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["source"] == "(draft)" and preview["rows"] == [[1, 10]]
    assert [e["code"] for e in preview["errors"]] == ["TYPE_MISMATCH"]
    assert [s["name"] for s in native.get("/sources").json()["data"]] == ["orders"]
    bad = native.call("POST", "/sources/preview", body={**body, "mapping": []})
    assert bad.status_code == 400 and error_of(bad)["code"] == "VALIDATION_ERROR"
    elsewhere = native.call(
        "POST",
        "/sources/preview",
        body={**body, "connection": None, "path_template": "/etc/passwd"},
    )
    assert elsewhere.status_code == 422 and "root:" not in elsewhere.text


def test_another_projects_connection_is_not_found_for_a_draft(native: Native) -> None:
    other = native.services.access.create_key("other", KeyKind.CONSOLE)
    other_id = native.services.access.project_id("other")
    native.services.catalog.create_table(other_id, ORDERS)
    body = {"table": "shop.orders", "connection": "in", "path_template": "{ds}.csv"}
    response = native.call(
        "POST", "/sources/preview", key=other, body={**body, "day": "2026-01-06"}
    )
    assert response.status_code == 404 and error_of(response)["code"] == "NOT_FOUND"


def test_a_symlink_out_of_the_projects_files_is_refused_as_in_a_load(native: Native) -> None:
    secret = native.services.settings.data_dir / "metadata-like.csv"
    secret.write_text(f"id,amount\n1,{MARKER}\n")
    (native.files / "2026-01-07.csv").symlink_to(secret)
    response = native.get("/sources/orders/preview", day="2026-01-07")
    assert response.status_code == 422, response.text
    assert MARKER not in response.text
