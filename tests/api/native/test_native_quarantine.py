"""Quarantined rows: listed with filters and pages, and replayed after the table is fixed."""

from __future__ import annotations

from datetime import date

from ingestd.control.access import KeyKind
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef
from ingestd.domain.tables import Column, ColumnType, TableSpec
from tests.api.native.conftest import ORDERS, Native, error_of

DAY = date(2026, 1, 5)


def _load_with_bad_rows(native: Native) -> None:
    native.write_day(DAY, "id,amount\n1,10\n2,10.5\n3,x\n4,7\n")
    native.run([DAY])
    native.drain()


def test_quarantined_rows_are_listed_and_paged(native: Native) -> None:
    _load_with_bad_rows(native)
    response = native.get("/quarantine", KeyKind.READ)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 2
    assert [(r["table"], r["record"], r["column"]) for r in body["data"]] == [
        ("shop.orders", 2, "amount"),
        ("shop.orders", 3, "amount"),
    ]
    assert all(r["file"] == "2026-01-05.csv" for r in body["data"])
    first = native.get("/quarantine", limit=1).json()
    second = native.get("/quarantine", limit=1, cursor=first["cursor"]).json()
    assert [r["record"] for r in first["data"] + second["data"]] == [2, 3]
    assert second["cursor"] is None
    code = body["data"][0]["code"]
    assert native.get("/quarantine", code=code).json()["total"] == 2
    assert native.get("/quarantine", code="NO_SUCH_CODE").json()["total"] == 0
    assert native.get("/quarantine", table="shop.orders").json()["total"] == 2
    unknown = native.get("/quarantine", table="shop.nope")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "NOT_FOUND"


def test_replay_after_a_fix_loads_the_rows(native: Native) -> None:
    _load_with_bad_rows(native)
    refused = native.call("POST", "/quarantine/replay", KeyKind.READ, body={"table": "shop.orders"})
    assert refused.status_code == 403
    # The fix: a decimal column for the amount, and the mapping points there.
    native.services.catalog.create_table(
        native.project_id,
        TableSpec("shop", "orders", (Column("amount_exact", ColumnType.FLOAT64), *ORDERS.columns)),
        merge=True,
    )
    native.services.catalog.update_source(
        native.project_id,
        "orders",
        mapping=Mapping(
            (
                FieldMapping("id", SourceRef(RefKind.COLUMN, "id")),
                FieldMapping("amount_exact", SourceRef(RefKind.COLUMN, "amount")),
            )
        ),
    )
    response = native.call(
        "POST", "/quarantine/replay", KeyKind.INGEST, body={"table": "shop.orders"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"replayed": 2, "loaded": 1, "still_failing": 1, "not_replayable": 0}
    assert native.get("/quarantine").json()["total"] == 1


def test_a_replay_body_is_checked(native: Native) -> None:
    extra = native.call("POST", "/quarantine/replay", body={"table": "shop.orders", "all": True})
    assert extra.status_code == 400 and error_of(extra)["field"] == "all"
    missing = native.call("POST", "/quarantine/replay", body={"table": "shop.nope"})
    assert missing.status_code == 404
