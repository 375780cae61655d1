"""Projections of the internal unit and run states onto each dialect's status vocabulary.

Contract: every function here is total over its input enum and returns a string of the
dialect's published vocabulary (API-SURFACE §1.3 Statsig, §2.3 Amperity, §3.4/§3.6/§3.7
Kusto). Dialect status strings are only ever computed here, never stored (DESIGN.md "Run and
unit states"). Error codes are mapped in ``domain.error_codes``.

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ingestd.domain.error_codes import statsig_daily_error_status
from ingestd.domain.states import TERMINAL_UNIT_STATES, RunState, UnitState
from ingestd.errors import FailureClass

# --- Statsig (API-SURFACE §1.3) ---------------------------------------------------------------

STATSIG_OTHER = "%Other"
"""Filter-only wildcard (§1.3): matches any status not named; never emitted as a status."""

# §1.3: the 25 values of the newest revision (S6), in published order.
STATSIG_DAILY_STATUSES: tuple[str, ...] = (
    "IMPORT_SUCCESSFUL",
    "ROWS_INSERTED",
    "LOADED_EMPTY_DATA",
    "IMPORT_SCHEDULED",
    "IMPORT_RESCHEDULED",
    "IMPORT_STARTED",
    "FILE_CREATED",
    "DOWNLOAD_COMPLETED",
    "BACKFILL_REQUESTED",
    "BACKFILL_STARTED",
    "ERROR",
    "CONNECTION_CONFIG_ERROR",
    "SSH_ERROR",
    "QUERY_CONSTRUCTION_ERROR",
    "INTERNAL_WRITE_ERROR_METRICS",
    "INTERNAL_WRITE_ERROR_EVENTS",
    "INTERNAL_WRITE_ERROR_EXPOSURES",
    "QUERY_ERROR",
    "SETUP_ERROR",
    "AUTHENTICATION_ERROR",
    "CONNECTION_ERROR",
    "INTERNAL_SERVER_ERROR",
    "BULK_LOAD_ERROR",
    "BULK_LOAD_SUCCESSFUL",
    STATSIG_OTHER,
)

_STATSIG_RUN_STATUS: Mapping[UnitState, str] = MappingProxyType(
    {
        UnitState.ENQUEUED: "enqueued",
        UnitState.STARTED: "started",
        UnitState.DOWNLOADING: "download_started",
        UnitState.LOADING: "download_started",
        # §1.3: download_started → download_error may repeat; a retry is visible in runHistory.
        UnitState.RETRYING: "download_error",
        UnitState.SUCCEEDED: "download_complete",
        UnitState.SKIPPED: "download_complete",
        UnitState.FAILED: "download_error",
        UnitState.CANCELED: "canceled",
    }
)


def statsig_run_status(state: UnitState) -> str:
    """The Statsig run-history status (``runHistory[].status`` and friends) of a unit state."""
    return _STATSIG_RUN_STATUS[state]


def statsig_daily_status(
    state: UnitState, *, trigger: str, rows_loaded: int, error_code: str | None, dataset: str
) -> str:
    """The Statsig daily status (``/ingestion/status`` row) of a source-and-day unit.

    ``trigger == "backfill"`` selects the BACKFILL_* pending and running values; a success
    with no rows is ``LOADED_EMPTY_DATA`` (§1.5, FAQ outcome 2); a failure is mapped from its
    error code and dataset by ``error_codes.statsig_daily_error_status``.
    """
    backfill = trigger == "backfill"
    match state:
        case UnitState.ENQUEUED:
            return "BACKFILL_REQUESTED" if backfill else "IMPORT_SCHEDULED"
        case UnitState.STARTED | UnitState.DOWNLOADING:
            return "BACKFILL_STARTED" if backfill else "IMPORT_STARTED"
        case UnitState.LOADING:
            return "DOWNLOAD_COMPLETED"
        case UnitState.RETRYING:
            return "IMPORT_RESCHEDULED"
        case UnitState.SUCCEEDED:
            return "IMPORT_SUCCESSFUL" if rows_loaded > 0 else "LOADED_EMPTY_DATA"
        case UnitState.SKIPPED:
            return "LOADED_EMPTY_DATA"
        case UnitState.CANCELED:
            return "ERROR"
        case UnitState.FAILED:
            return statsig_daily_error_status(error_code, dataset)


# --- Amperity (API-SURFACE §2.3; §5 item 17: lowercase on the wire) -----------------------

_AMPERITY_STATE: Mapping[UnitState, str] = MappingProxyType(
    {
        UnitState.ENQUEUED: "scheduled",
        UnitState.STARTED: "started",
        UnitState.DOWNLOADING: "running",
        UnitState.LOADING: "running",
        UnitState.RETRYING: "running",
        UnitState.SUCCEEDED: "succeeded",
        UnitState.FAILED: "failed",
        UnitState.CANCELED: "canceled",
        UnitState.SKIPPED: "skipped",
    }
)


def amperity_state(state: UnitState) -> str:
    """The Amperity ``tables[].state`` of a unit state."""
    return _AMPERITY_STATE[state]


def amperity_run_state(state: RunState, *, stop_requested: bool = False) -> str:
    """The Amperity state of a whole ingest job; a user stop reads ``stopping``/``stopped``.

    A partial success is ``succeeded``: Amperity has no partial state and its per-feed
    ``errors``/``rejected`` counts carry the rest.
    """
    match state:
        case RunState.ENQUEUED:
            return "scheduled"
        case RunState.RUNNING:
            return "stopping" if stop_requested else "running"
        case RunState.SUCCEEDED | RunState.PARTIALLY_SUCCEEDED:
            return "succeeded"
        case RunState.FAILED:
            return "failed"
        case RunState.CANCELED:
            return "stopped" if stop_requested else "canceled"


# --- Kusto (API-SURFACE §3.4, §3.6, §3.7) -----------------------------------------------------

_KUSTO_TERMINAL_STATUS: Mapping[UnitState, str] = MappingProxyType(
    {
        UnitState.SUCCEEDED: "Succeeded",
        # §3.7 [I]: Skipped has no REST equivalent; an ingestIfNotExists hit is a success.
        UnitState.SKIPPED: "Succeeded",
        UnitState.FAILED: "Failed",
        UnitState.CANCELED: "Canceled",
    }
)


def kusto_blob_status(state: UnitState) -> str:
    """The REST ``details[].status`` of a blob (§3.4): InProgress until terminal."""
    return _KUSTO_TERMINAL_STATUS.get(state, "InProgress")


def kusto_command_blob_status(state: UnitState) -> str:
    """The ``IngestionStatus`` column of ``.show queued ingestion operations … details``.

    §5 item 28: the command says ``Pending`` where REST says ``InProgress``.
    """
    return _KUSTO_TERMINAL_STATUS.get(state, "Pending")


def kusto_operation_state(unit_states: Iterable[UnitState], *, canceled: bool) -> str:
    """The operation ``State`` (§3.6) over its blobs' unit states.

    §3.7 [I]: ``Canceled`` if the user canceled; else ``InProgress`` while any blob is not
    terminal; ``Failed`` if every blob failed (and there is one); else ``Completed``.
    """
    if canceled:
        return "Canceled"
    states = list(unit_states)
    if any(s not in TERMINAL_UNIT_STATES for s in states):
        return "InProgress"
    if states and all(s == UnitState.FAILED for s in states):
        return "Failed"
    return "Completed"


def kusto_failure_status(failure_class: FailureClass | None) -> str:
    """The REST ``details[].failureStatus`` (§3.4, §3.8 [I]); no class known → ``Unknown``."""
    return "Unknown" if failure_class is None else str(failure_class)
