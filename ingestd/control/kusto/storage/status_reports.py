"""What ingestd writes into a status-table entity when a blob's outcome is known, as the
service does (API-SURFACE §3.7): ``Status`` (Succeeded, Skipped, Failed), ``UpdatedOn``,
``OperationId``, ``ActivityId`` and, when failed, ``ErrorCode``, ``FailureStatus``, ``Details``.
Pure: the values are merged into the entity by ``StatusTable.report``."""

from __future__ import annotations

from datetime import datetime

from ingestd.domain.error_codes import kusto_error_code
from ingestd.domain.kusto_storage import BlobOutcome, EntityValue, QueuedBlob
from ingestd.domain.projections import kusto_failure_status
from ingestd.domain.states import UnitState
from ingestd.errors import FailureClass


def failure_of(outcome: BlobOutcome) -> tuple[str, str]:
    """The K7 ``ErrorCode`` and ``FailureStatus`` of a unit that did not succeed."""
    if outcome.state == UnitState.CANCELED.value:
        return "BadRequest_IngestionCanceled", "Permanent"
    code = kusto_error_code(outcome.error_code or "INTERNAL_ERROR")
    failure = FailureClass(outcome.failure_status) if outcome.failure_status else None
    return code, kusto_failure_status(failure)


def outcome_properties(
    status: str,
    operation_id: str,
    root: str,
    at: datetime,
    *,
    failure: tuple[str, str, str] | None = None,
) -> dict[str, EntityValue]:
    """``failure`` is (ErrorCode, FailureStatus, Details)."""
    properties: dict[str, EntityValue] = {
        "Status": status,
        "UpdatedOn": at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
        "UpdatedOn@odata.type": "Edm.DateTime",
        "OperationId": operation_id,
        "ActivityId": root,
    }
    if failure is not None:
        code, failure_status, details = failure
        properties |= {"ErrorCode": code, "FailureStatus": failure_status, "Details": details}
    return properties


def unit_properties(
    blob: QueuedBlob, outcome: BlobOutcome, succeeded: bool, now: datetime
) -> dict[str, EntityValue]:
    at = outcome.ended_at or now
    if succeeded:
        status = "Skipped" if outcome.state == UnitState.SKIPPED.value else "Succeeded"
        return outcome_properties(status, blob.operation_id, blob.unit_id, at)
    code, failure_status = failure_of(outcome)
    return outcome_properties(
        "Failed",
        blob.operation_id,
        blob.unit_id,
        at,
        failure=(code, failure_status, outcome.error_message or ""),
    )
