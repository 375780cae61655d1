"""Dialect projections of unit and run states (ingestd.domain.projections)."""

from __future__ import annotations

import pytest

from ingestd.domain.projections import (
    STATSIG_DAILY_STATUSES,
    STATSIG_OTHER,
    amperity_run_state,
    amperity_state,
    kusto_blob_status,
    kusto_command_blob_status,
    kusto_failure_status,
    kusto_operation_state,
    statsig_daily_status,
    statsig_run_status,
)
from ingestd.domain.states import RunState, UnitState
from ingestd.errors import FailureClass

E, ST, D, L, R = "enqueued", "started", "downloading", "loading", "retrying"
OK, F, C, SK = "succeeded", "failed", "canceled", "skipped"


def _by_state(table: dict[str, str]) -> list[tuple[UnitState, str]]:
    """Parametrize rows from a {state value: expected} table that must name every state."""
    assert set(table) == {s.value for s in UnitState}
    return [(UnitState(state), expected) for state, expected in table.items()]


def _ids(value: object) -> str:
    return str(value)


# --- Statsig ------------------------------------------------------------------------------------


def test_statsig_daily_statuses_published_order() -> None:
    assert len(STATSIG_DAILY_STATUSES) == 25
    assert len(set(STATSIG_DAILY_STATUSES)) == 25
    assert STATSIG_DAILY_STATUSES[:3] == ("IMPORT_SUCCESSFUL", "ROWS_INSERTED", "LOADED_EMPTY_DATA")
    assert STATSIG_DAILY_STATUSES[-1] == STATSIG_OTHER == "%Other"
    assert STATSIG_DAILY_STATUSES.index("BACKFILL_STARTED") == 9


@pytest.mark.parametrize(
    ("state", "expected"),
    _by_state(
        {
            E: "enqueued",
            ST: "started",
            D: "download_started",
            L: "download_started",
            R: "download_error",
            OK: "download_complete",
            F: "download_error",
            C: "canceled",
            SK: "download_complete",
        }
    ),
    ids=_ids,
)
def test_statsig_run_status(state: UnitState, expected: str) -> None:
    assert statsig_run_status(state) == expected


SCHEDULED = {
    E: "IMPORT_SCHEDULED",
    ST: "IMPORT_STARTED",
    D: "IMPORT_STARTED",
    L: "DOWNLOAD_COMPLETED",
    R: "IMPORT_RESCHEDULED",
    OK: "IMPORT_SUCCESSFUL",
    F: "AUTHENTICATION_ERROR",
    C: "ERROR",
    SK: "LOADED_EMPTY_DATA",
}
BACKFILL = {**SCHEDULED, E: "BACKFILL_REQUESTED", ST: "BACKFILL_STARTED", D: "BACKFILL_STARTED"}


@pytest.mark.parametrize(("state", "expected"), _by_state(SCHEDULED), ids=_ids)
def test_statsig_daily_status_scheduled(state: UnitState, expected: str) -> None:
    status = statsig_daily_status(
        state, trigger="scheduled", rows_loaded=10, error_code="AUTHENTICATION_ERROR", dataset="x"
    )
    assert status == expected
    assert status in STATSIG_DAILY_STATUSES


@pytest.mark.parametrize(("state", "expected"), _by_state(BACKFILL), ids=_ids)
def test_statsig_daily_status_backfill(state: UnitState, expected: str) -> None:
    status = statsig_daily_status(
        state, trigger="backfill", rows_loaded=10, error_code="AUTHENTICATION_ERROR", dataset="x"
    )
    assert status == expected
    assert status in STATSIG_DAILY_STATUSES


@pytest.mark.parametrize("trigger", ["scheduled", "backfill", "api", "manual"])
def test_statsig_success_without_rows_is_loaded_empty_data(trigger: str) -> None:
    status = statsig_daily_status(
        UnitState.SUCCEEDED, trigger=trigger, rows_loaded=0, error_code=None, dataset="Events"
    )
    assert status == "LOADED_EMPTY_DATA"


@pytest.mark.parametrize(
    ("error_code", "dataset", "expected"),
    [
        ("DESTINATION_ERROR", "Metrics", "INTERNAL_WRITE_ERROR_METRICS"),
        ("DESTINATION_BUSY", "events", "INTERNAL_WRITE_ERROR_EVENTS"),
        ("TABLE_NOT_FOUND", "Events", "SETUP_ERROR"),
        (None, "Events", "ERROR"),
    ],
)
def test_statsig_daily_status_failed_uses_error_mapping(
    error_code: str | None, dataset: str, expected: str
) -> None:
    status = statsig_daily_status(
        UnitState.FAILED, trigger="scheduled", rows_loaded=0, error_code=error_code, dataset=dataset
    )
    assert status == expected


# --- Amperity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    _by_state(
        {
            E: "scheduled",
            ST: "started",
            D: "running",
            L: "running",
            R: "running",
            OK: "succeeded",
            F: "failed",
            C: "canceled",
            SK: "skipped",
        }
    ),
    ids=_ids,
)
def test_amperity_state(state: UnitState, expected: str) -> None:
    assert amperity_state(state) == expected


AMPERITY_RUN = {
    ("enqueued", False): "scheduled",
    ("enqueued", True): "scheduled",
    ("running", False): "running",
    ("running", True): "stopping",
    ("succeeded", False): "succeeded",
    ("succeeded", True): "succeeded",
    ("partially_succeeded", False): "succeeded",
    ("partially_succeeded", True): "succeeded",
    ("failed", False): "failed",
    ("failed", True): "failed",
    ("canceled", False): "canceled",
    ("canceled", True): "stopped",
}


def test_amperity_run_table_covers_every_run_state() -> None:
    assert {state for state, _ in AMPERITY_RUN} == {s.value for s in RunState}


@pytest.mark.parametrize(
    ("state", "stop_requested", "expected"),
    [
        pytest.param(RunState(state), stop, expected, id=f"{state}-{'stop' if stop else 'no-stop'}")
        for (state, stop), expected in AMPERITY_RUN.items()
    ],
)
def test_amperity_run_state(state: RunState, stop_requested: bool, expected: str) -> None:
    assert amperity_run_state(state, stop_requested=stop_requested) == expected


def test_amperity_run_state_default_is_no_stop() -> None:
    assert amperity_run_state(RunState.CANCELED) == "canceled"


# --- Kusto --------------------------------------------------------------------------------------

KUSTO_REST = {
    E: "InProgress",
    ST: "InProgress",
    D: "InProgress",
    L: "InProgress",
    R: "InProgress",
    OK: "Succeeded",
    F: "Failed",
    C: "Canceled",
    SK: "Succeeded",
}
KUSTO_COMMAND = {state: "Pending" if v == "InProgress" else v for state, v in KUSTO_REST.items()}


@pytest.mark.parametrize(("state", "expected"), _by_state(KUSTO_REST), ids=_ids)
def test_kusto_blob_status(state: UnitState, expected: str) -> None:
    assert kusto_blob_status(state) == expected


@pytest.mark.parametrize(("state", "expected"), _by_state(KUSTO_COMMAND), ids=_ids)
def test_kusto_command_blob_status(state: UnitState, expected: str) -> None:
    assert kusto_command_blob_status(state) == expected


@pytest.mark.parametrize(
    ("units", "canceled", "expected"),
    [
        pytest.param((), False, "Completed", id="no-blobs"),
        pytest.param((), True, "Canceled", id="no-blobs-canceled"),
        pytest.param((E, E), False, "InProgress", id="all-enqueued"),
        pytest.param((OK, L), False, "InProgress", id="one-loading"),
        pytest.param((F, R), False, "InProgress", id="one-retrying"),
        pytest.param((E, OK), True, "Canceled", id="canceled-while-in-progress"),
        pytest.param((OK, OK), True, "Canceled", id="canceled-after-finish"),
        pytest.param((OK, SK), False, "Completed", id="succeeded-and-skipped"),
        pytest.param((OK, F), False, "Completed", id="some-failed"),
        pytest.param((F, C), False, "Completed", id="failed-and-canceled-blob"),
        pytest.param((F,), False, "Failed", id="one-failed"),
        pytest.param((F, F, F), False, "Failed", id="all-failed"),
    ],
)
def test_kusto_operation_state(units: tuple[str, ...], canceled: bool, expected: str) -> None:
    states = (UnitState(u) for u in units)
    assert kusto_operation_state(states, canceled=canceled) == expected


@pytest.mark.parametrize(
    ("failure_class", "expected"),
    [
        (FailureClass.PERMANENT, "Permanent"),
        (FailureClass.TRANSIENT, "Transient"),
        (FailureClass.EXHAUSTED, "Exhausted"),
        (None, "Unknown"),
    ],
    ids=_ids,
)
def test_kusto_failure_status(failure_class: FailureClass | None, expected: str) -> None:
    assert kusto_failure_status(failure_class) == expected
