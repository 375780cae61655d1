"""Core views to Kusto wire shapes: the REST status body (§3.4), the configuration (§3.5) and
v1 result tables of management commands (§3.2, §3.6)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestd.control.kusto.mappings import MappingView
from ingestd.control.kusto.queued import Operation
from ingestd.control.run_views import UnitView
from ingestd.domain.error_codes import kusto_error_code
from ingestd.domain.kql.types import KQL_TYPES, V1_DATA_TYPES
from ingestd.domain.projections import (
    kusto_blob_status,
    kusto_command_blob_status,
    kusto_failure_status,
    kusto_operation_state,
)
from ingestd.domain.states import TERMINAL_UNIT_STATES, UnitState
from ingestd.domain.tables import ColumnType, TableSpec

SAMPLE_FAILED_REASONS = 3


def timestamp(value: datetime) -> str:
    """REST timestamps as in the vendor examples: ``2025-10-01T12:00:00Z`` (§3.4)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_datetime(value: datetime | None) -> str | None:
    """Command result datetimes, Kusto style: 7 fractional digits and Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def kusto_type(column_type: ColumnType) -> str:
    return KQL_TYPES[column_type].value


# -- REST -------------------------------------------------------------------------------------


def _last_updated(operation: Operation) -> datetime:
    run = operation.run
    return max([run.updated_at, *(u.updated_at for u in run.units)])


def status_counts(units: Sequence[UnitView]) -> dict[str, int]:
    """§3.4 and §5 item 22: all four keys, always; they sum to the blobs submitted."""
    counts = {"Succeeded": 0, "Failed": 0, "InProgress": 0, "Canceled": 0}
    for unit in units:
        counts[kusto_blob_status(unit.state)] += 1
    return counts


def blob_detail(unit: UnitView) -> dict[str, Any]:
    status = kusto_blob_status(unit.state)
    detail: dict[str, Any] = {}
    if unit.blob_source_id:
        detail["sourceId"] = unit.blob_source_id
    detail["url"] = unit.blob_url
    detail["status"] = status
    detail["startTime"] = timestamp(unit.started_at or unit.created_at)
    detail["lastUpdated"] = timestamp(unit.updated_at)
    if status == "Failed":  # §3.4: errorCode, failureStatus and details only when Failed
        detail["errorCode"] = kusto_error_code(unit.error_code or "INTERNAL_ERROR")
        detail["failureStatus"] = kusto_failure_status(unit.failure_status)
        detail["details"] = unit.error_message or ""
    return detail


def status_body(operation: Operation, *, details: bool) -> dict[str, Any]:
    units = operation.run.units
    body: dict[str, Any] = {
        "startTime": timestamp(operation.run.created_at),
        "lastUpdated": timestamp(_last_updated(operation)),
        "status": status_counts(units),
    }
    if details:
        body["details"] = [blob_detail(u) for u in units]
    return body


def configuration(max_data_size: int, max_blobs: int) -> dict[str, Any]:
    """§3.5. ingestd hosts no upload containers or lake folders: clients upload to their own
    storage and pass the URLs (``preferredUploadMethod`` ``Default``)."""
    return {
        "containerSettings": {
            "containers": [],
            "lakeFolders": [],
            "refreshInterval": "01:00:00",
            "preferredUploadMethod": "Default",
        },
        "ingestionSettings": {
            "maxBlobsPerBatch": max_blobs,
            "maxDataSize": max_data_size,
            "preferredIngestionMethod": "REST",  # §5 item 27
        },
    }


# -- v1 result tables -------------------------------------------------------------------------


@dataclass(frozen=True)
class V1Table:
    columns: tuple[tuple[str, str], ...]
    """(ColumnName, csl type)."""
    rows: list[list[Any]]

    def to_json(self, index: int) -> dict[str, Any]:
        return {
            "TableName": f"Table_{index}",
            "Columns": [
                {"ColumnName": name, "DataType": V1_DATA_TYPES[kind], "ColumnType": kind}
                for name, kind in self.columns
            ],
            "Rows": self.rows,
        }


def v1_response(tables: Sequence[V1Table]) -> dict[str, Any]:
    return {"Tables": [t.to_json(i) for i, t in enumerate(tables)]}


_SCHEMA_COLUMNS = (
    ("TableName", "string"),
    ("Schema", "string"),
    ("DatabaseName", "string"),
    ("Folder", "string"),
    ("DocString", "string"),
)


def csl_schema(table: TableSpec) -> str:
    return ",".join(f"{c.name}:{kusto_type(c.type)}" for c in table.columns)


def json_schema(table: TableSpec) -> str:
    return json.dumps(
        {
            "Name": table.name,
            "OrderedColumns": [
                {
                    "Name": c.name,
                    "Type": KQL_TYPES[c.type].dotnet,
                    "CslType": kusto_type(c.type),
                }
                for c in table.columns
            ],
        },
        separators=(",", ":"),
    )


def table_schema(table: TableSpec, *, csl: bool) -> V1Table:
    schema = csl_schema(table) if csl else json_schema(table)
    return V1Table(_SCHEMA_COLUMNS, [[table.name, schema, table.namespace, "", ""]])


def tables_list(tables: Sequence[TableSpec]) -> V1Table:
    return V1Table(
        (
            ("TableName", "string"),
            ("DatabaseName", "string"),
            ("Folder", "string"),
            ("DocString", "string"),
        ),
        [[t.name, t.namespace, "", ""] for t in tables],
    )


def mappings_table(mappings: Sequence[MappingView]) -> V1Table:
    return V1Table(
        (
            ("Name", "string"),
            ("Kind", "string"),
            ("Mapping", "string"),
            ("LastUpdatedOn", "datetime"),
            ("Database", "string"),
            ("Table", "string"),
        ),
        [
            [
                m.name,
                m.kind,
                json.dumps(m.elements, separators=(",", ":")),
                v1_datetime(m.updated_at),
                m.table.partition(".")[0],
                m.table.partition(".")[2],
            ]
            for m in mappings
        ],
    )


def ingest_result(operation: Operation, client_request_id: str) -> V1Table:
    """§3.6 and §5 item 32: one row, three columns."""
    return V1Table(
        (
            ("IngestionOperationId", "string"),
            ("ClientRequestId", "string"),
            ("OperationInfo", "string"),
        ),
        [
            [
                operation.id,
                client_request_id,
                f'.show queued ingestion operations "{operation.id}"',
            ]
        ],
    )


_SUMMARY_COLUMNS = (
    ("IngestionOperationId", "string"),
    ("StartedOn", "datetime"),
    ("LastUpdatedOn", "datetime"),
    ("State", "string"),
    ("Discovered", "long"),
    ("Pending", "long"),
    ("Canceled", "long"),
    ("Ingested", "long"),
    ("Failed", "long"),
    ("SampleFailedReasons", "string"),
    ("Database", "string"),
    ("Table", "string"),
)


def operations_summary(operations: Sequence[Operation]) -> V1Table:
    """§3.6: the 12 summary columns; ``Pending`` per §5 item 28, not ``InProgress``."""
    rows = []
    for operation in operations:
        units = operation.run.units
        states = [u.state for u in units]
        failed = [u for u in units if u.state is UnitState.FAILED]
        reasons = list(dict.fromkeys(_reason(u) for u in failed))[:SAMPLE_FAILED_REASONS]
        rows.append(
            [
                operation.id,
                v1_datetime(operation.run.created_at),
                v1_datetime(_last_updated(operation)),
                kusto_operation_state(states, canceled=operation.run.cancel_requested),
                len(units),
                sum(1 for s in states if s not in TERMINAL_UNIT_STATES),
                sum(1 for s in states if s is UnitState.CANCELED),
                sum(1 for s in states if s in (UnitState.SUCCEEDED, UnitState.SKIPPED)),
                len(failed),
                "; ".join(reasons),
                operation.database,
                operation.table,
            ]
        )
    return V1Table(_SUMMARY_COLUMNS, rows)


def operations_details(operations: Sequence[Operation]) -> V1Table:
    """§3.6 details columns, with the documented spellings (§5 item 28)."""
    rows = []
    for operation in operations:
        for unit in operation.run.units:
            rows.append(
                [
                    operation.id,
                    unit.blob_url,
                    kusto_command_blob_status(unit.state),
                    v1_datetime(unit.started_at),
                    v1_datetime(unit.ended_at),
                    _reason(unit) if unit.state is UnitState.FAILED else "",
                ]
            )
    return V1Table(
        (
            ("IngestionOperationId", "string"),
            ("BlobURL", "string"),
            ("IngestionStatus", "string"),
            ("StartedAt", "datetime"),
            ("CompletedAt", "datetime"),
            ("FailedReasons", "string"),
        ),
        rows,
    )


def ingestion_failures(failures: Sequence[tuple[Operation, UnitView]]) -> V1Table:
    """``.show ingestion failures``: one row per failed blob, the vendor's columns."""
    rows = [
        [
            operation.id,
            operation.database,
            operation.table,
            v1_datetime(unit.ended_at or unit.updated_at),
            unit.blob_url,
            unit.error_message or "",
            kusto_failure_status(unit.failure_status),
            operation.run.request.get("client_request_id") or "",
            "DataIngestPull",
            False,
            kusto_error_code(unit.error_code or "INTERNAL_ERROR"),
            kusto_failure_status(unit.failure_status) == "Transient",
        ]
        for operation, unit in failures
    ]
    return V1Table(
        (
            ("OperationId", "string"),
            ("Database", "string"),
            ("Table", "string"),
            ("FailedOn", "datetime"),
            ("IngestionSourcePath", "string"),
            ("Details", "string"),
            ("FailureKind", "string"),
            ("RootActivityId", "string"),
            ("OperationKind", "string"),
            ("OriginatesFromUpdatePolicy", "bool"),
            ("ErrorCode", "string"),
            ("ShouldRetry", "bool"),
        ),
        rows,
    )


def _reason(unit: UnitView) -> str:
    code = kusto_error_code(unit.error_code or "INTERNAL_ERROR")
    return f"{code}: {unit.error_message or ''}".rstrip(": ")


def streaming_result(operation: Operation, unit: UnitView) -> V1Table:
    """The answer of a streaming ingestion: one row. ``ConsumedRecordsCount`` and the
    ``UpdatePolicy*`` columns are the service's (ingestd has no update policies: ``Skipped``,
    [I]); ``IngestionOperationId`` is ingestd's own addition, the id that
    ``.show queued ingestion operations`` and the REST status take (the SDK ignores it)."""
    return V1Table(
        (
            ("ConsumedRecordsCount", "long"),
            ("UpdatePolicyStatus", "string"),
            ("UpdatePolicyFailureCode", "string"),
            ("UpdatePolicyFailureReason", "string"),
            ("IngestionOperationId", "string"),
        ),
        [[unit.counts.read, "Skipped", "", "", operation.id]],
    )
