"""Runs: filters and cursor pages (in SQL), a run with its units, files, attempts and history,
and canceling runs and units."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ingestd.control.access import KeyKind
from ingestd.domain.origins import RunOrigin
from tests.api.native.conftest import Native, error_of

D1, D2, D3 = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]]


def _all_pages(native: Native, **params: Any) -> list[str]:
    """Follow ``next`` links to the end; every page's ids, in order."""
    seen: list[str] = []
    response = native.get("/runs", **params)
    while True:
        seen += _ids(response)
        link = response.json()["next"]
        if link is None:
            return seen
        assert link.startswith("/ingestd/v1/runs?")
        response = native.client.get(
            link, headers={"Authorization": f"Bearer {native.keys[KeyKind.CONSOLE]}"}
        )


@pytest.fixture
def native(native_any_store: Native) -> Native:
    """These queries run in SQL: each test runs on SQLite and on PostgreSQL metadata."""
    return native_any_store


@pytest.fixture
def history(native: Native) -> dict[str, str]:
    """Four finished runs: D1 ok (manual), D2 failed (no file; backfill), D1+D3 (scheduled,
    D3 fails), and a Kusto-origin-free other source run; one pending run on D3."""
    native.write_day(D1, "id,amount\n1,10\n2,20\n")
    ids = {
        "d1": native.run([D1]),
        "d2": native.run([D2], trigger="backfill"),
        "d1d3": native.run([D1, D3], trigger="scheduled"),
    }
    native.drain()
    native.services.catalog.create_source(
        native.project_id,
        name="refunds",
        table="shop.orders",
        connection="in",
        path_template="{ds}.csv",
    )
    ids["refunds"] = native.services.runs.start_source_run(
        native.project_id, ["refunds"], [D1], trigger="manual", origin=RunOrigin.NATIVE
    ).id
    native.drain()
    ids["pending"] = native.run([D3])
    return ids


def test_runs_are_filtered_in_every_dimension(native: Native, history: dict[str, str]) -> None:
    assert set(_ids(native.get("/runs", KeyKind.READ))) == set(history.values())
    assert set(_ids(native.get("/runs", state="succeeded"))) == {history["d1"], history["refunds"]}
    assert set(_ids(native.get("/runs", state="failed"))) == {history["d2"]}
    assert _ids(native.get("/runs", state="enqueued")) == [history["pending"]]
    assert set(_ids(native.get("/runs", trigger=["backfill", "scheduled"]))) == {
        history["d2"],
        history["d1d3"],
    }
    assert _ids(native.get("/runs", source="refunds")) == [history["refunds"]]
    assert set(_ids(native.get("/runs", day_from="2026-01-06", day_to="2026-01-06"))) == {
        history["d2"]
    }
    assert set(_ids(native.get("/runs", day_from="2026-01-07"))) == {
        history["d1d3"],
        history["pending"],
    }
    assert _ids(native.get("/runs", origin="native")) == [history["refunds"]]
    assert _ids(native.get("/runs", origin="kusto")) == []
    combined = native.get("/runs", source="orders", day_to="2026-01-05", state="succeeded")
    assert _ids(combined) == [history["d1"]]


def test_cursor_pages_cover_every_run_once_newest_first(
    native: Native, history: dict[str, str]
) -> None:
    everything = native.get("/runs", limit=500).json()["data"]
    expected = [r["id"] for r in sorted(everything, key=lambda r: (r["created_at"], r["id"]))]
    expected.reverse()
    assert _all_pages(native, limit=2) == expected
    first = native.get("/runs", limit=2).json()
    assert first["cursor"] is not None and first["next"].endswith(f"cursor={first['cursor']}")
    filtered = _all_pages(native, limit=1, state="succeeded")
    assert sorted(filtered) == sorted([history["d1"], history["refunds"]])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "2352468481829821665132064196788224"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"state": "sleeping"}, "state"),
        ({"origin": "fax"}, "origin"),
        ({"day_from": "2026-13-01"}, "day_from"),
        ({"cursor": "not-a-cursor"}, None),
        ({"cursor": "WyJuYW1lIiwib3JkZXJzIl0"}, None),  # a status-grid cursor, not a run's
        ({"day_from": "2026-01-07", "day_to": "2026-01-05"}, None),
    ],
    ids=["huge-limit", "zero-limit", "state", "origin", "day", "cursor", "foreign-cursor", "range"],
)
def test_bad_run_queries_are_400_naming_the_field(
    native: Native, params: dict[str, str], field: str | None
) -> None:
    response = native.get("/runs", **params)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"] == field


def test_a_run_shows_its_units_files_attempts_and_history(
    native: Native, history: dict[str, str]
) -> None:
    response = native.get(f"/runs/{history['d1d3']}", KeyKind.READ)
    assert response.status_code == 200, response.text
    run = response.json()
    assert (run["state"], run["trigger"], run["origin"]) == (
        "partially_succeeded",
        "scheduled",
        "cli",
    )
    assert run["unit_count"] == 2
    ok, failed = run["units"]
    assert (ok["day"], ok["state"], ok["counts"]["inserted"]) == ("2026-01-05", "succeeded", 2)
    assert [f["name"] for f in ok["files"]] == ["2026-01-05.csv"]
    assert ok["files"][0]["counts"]["read"] == 2
    assert ok["attempts"]["made"] == 1
    assert [h["state"] for h in ok["history"]][-1] == "succeeded"
    assert "started" in [h["state"] for h in ok["history"]]
    assert (failed["day"], failed["state"]) == ("2026-01-07", "failed")
    assert failed["error"]["code"] and failed["error"]["failure_class"] == "Permanent"
    assert run["history"][0]["state"] == "enqueued"
    assert native.get("/runs/00000000-0000-0000-0000-000000000000").status_code == 404


def test_canceling_a_run_and_a_unit(native: Native, history: dict[str, str]) -> None:
    refused = native.call("POST", f"/runs/{history['pending']}/cancel", KeyKind.READ)
    assert refused.status_code == 403
    canceled = native.call("POST", f"/runs/{history['pending']}/cancel", KeyKind.INGEST)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["state"] == "canceled"
    assert [u["state"] for u in canceled.json()["units"]] == ["canceled"]

    fresh = native.run([D2])
    [unit] = native.get(f"/runs/{fresh}").json()["units"]
    unit_canceled = native.call("POST", f"/units/{unit['id']}/cancel", KeyKind.INGEST)
    assert unit_canceled.status_code == 200, unit_canceled.text
    assert unit_canceled.json()["state"] == "canceled"
    again = native.call("POST", f"/units/{unit['id']}/cancel")
    assert again.status_code == 409
    assert error_of(again)["code"] == "ILLEGAL_TRANSITION"
    assert native.call("POST", "/units/nope/cancel").status_code == 404
