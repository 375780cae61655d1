"""The preview page: a source's first rows for a day, typed, with their errors; nothing is
committed."""

from __future__ import annotations

from datetime import date

from ingestd.control.access import KeyKind
from tests.api.dashboard.conftest import browser
from tests.api.dashboard.test_dashboard_tenancy import _other_project
from tests.api.native.conftest import Native

DAY = date(2026, 1, 5)


def test_a_preview_shows_typed_rows_and_errors_and_commits_nothing(native: Native) -> None:
    native.write_day(DAY, "id,amount\n1,10\n2,10.5\n3,x\n4,7\n")
    client = browser(native, kind=KeyKind.READ)
    response = client.get("/ui/sources/orders/preview", params={"day": DAY.isoformat()})
    assert response.status_code == 200, response.text
    text = response.text
    assert "Nothing was committed" in text
    assert "2 valid, 2 with errors" in text
    assert "2026-01-05.csv" in text and "amount" in text
    assert "10.5" in text  # the raw value of a row that failed typing
    # Nothing ran, nothing was loaded or quarantined.
    assert native.services.runs.list_runs(native.project_id)[1] == 0
    assert native.services.quarantine.list(native.project_id, ["shop.orders"])[1] == 0


def test_a_preview_of_another_projects_source_is_not_found(native: Native) -> None:
    native.write_day(DAY, "id,amount\n1,10\n")
    _, key = _other_project(native)
    client = browser(native, key)
    response = client.get("/ui/sources/orders/preview", params={"day": DAY.isoformat()})
    assert response.status_code == 404
    assert "1,10" not in response.text
