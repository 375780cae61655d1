"""The source x day status grid: the newest unit decides each cell; sources are paged."""

from __future__ import annotations

from datetime import date

import pytest

from ingestd.control.access import KeyKind
from tests.api.native.conftest import Native, error_of

D1, D2, D3 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
WINDOW = {"start": "2026-01-04", "end": "2026-01-08"}


@pytest.fixture
def native(native_any_store: Native) -> Native:
    """These queries run in SQL: each test runs on SQLite and on PostgreSQL metadata."""
    return native_any_store


def _cells(row: dict[str, object]) -> dict[str, str]:
    days = row["days"]
    assert isinstance(days, list)
    return {cell["day"]: cell["state"] for cell in days}


def test_the_newest_unit_of_a_day_decides_its_cell(native: Native) -> None:
    native.write_day(D1, "id,amount\n1,10\n")
    native.run([D1, D2])  # D2 has no file: it fails
    native.drain()
    native.write_day(D2, "id,amount\n2,20\n3,30\n")
    rerun = native.run([D2], trigger="backfill")
    native.drain()
    native.run([D3])  # still waiting

    response = native.get("/status", KeyKind.READ, **WINDOW)
    assert response.status_code == 200, response.text
    grid = response.json()
    assert grid["days"] == [f"2026-01-0{d}" for d in range(4, 9)]
    [row] = grid["data"]
    assert row["source"] == "orders"
    assert _cells(row) == {
        "2026-01-05": "succeeded",
        "2026-01-06": "succeeded",
        "2026-01-07": "enqueued",
    }
    d2 = next(c for c in row["days"] if c["day"] == "2026-01-06")
    assert (d2["run_id"], d2["trigger"], d2["counts"]["inserted"]) == (rerun, "backfill", 2)

    only_waiting = native.get("/status", **WINDOW, state="enqueued").json()
    assert _cells(only_waiting["data"][0]) == {"2026-01-07": "enqueued"}


def test_sources_are_paged_by_name_and_every_one_has_a_row(native: Native) -> None:
    for name in ("b-src", "a-src", "c-src"):
        native.services.catalog.create_source(
            native.project_id,
            name=name,
            table="shop.orders",
            connection="in",
            path_template="{ds}.csv",
        )
    native.write_day(D1, "id,amount\n1,10\n")
    native.run([D1], source="b-src")
    native.drain()
    seen: list[str] = []
    page = native.get("/status", **WINDOW, limit=3).json()
    seen += [r["source"] for r in page["data"]]
    assert page["next"] is not None
    page = native.get("/status", **WINDOW, limit=3, cursor=page["cursor"]).json()
    seen += [r["source"] for r in page["data"]]
    assert page["next"] is None and page["cursor"] is None
    assert seen == ["a-src", "b-src", "c-src", "orders"]
    chosen = native.get("/status", **WINDOW, source=["b-src", "orders"]).json()["data"]
    assert [(r["source"], _cells(r)) for r in chosen] == [
        ("b-src", {"2026-01-05": "succeeded"}),
        ("orders", {}),
    ]


def test_a_wide_or_backwards_range_is_refused(native: Native) -> None:
    wide = native.get("/status", start="2026-01-01", end="2026-06-01")
    assert wide.status_code == 400
    assert "92" in error_of(wide)["message"] and error_of(wide)["hint"]
    backwards = native.get("/status", start="2026-01-08", end="2026-01-01")
    assert backwards.status_code == 400
    missing = native.get("/status", start="2026-01-01")
    assert missing.status_code == 400 and error_of(missing)["field"] == "end"
