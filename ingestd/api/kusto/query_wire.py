"""Query results in the vendor's two response shapes: v2 frames (``/v2/rest/query``) and v1
tables (``/v1/rest/query``), as ``azure-kusto-data``'s ``KustoResponseDataSetV2`` and
``KustoResponseDataSetV1`` parse them.

A truncated answer is flagged as the service flags its own limits: a warning row in the
completion table (v2 ``QueryCompletionInformation``, v1 ``QueryStatus``), which the SDK counts
in ``errors_count`` and lists in ``get_exceptions()``, and ``HasErrors`` in v2's completion.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ingestd.api.kusto.wire import v1_datetime
from ingestd.control.kusto.queries import QueryResult
from ingestd.domain.kql.types import V1_DATA_TYPES, KqlType

_INFO, _WARNING = 4, 3


def _cell(value: Any, kind: KqlType, *, v2: bool) -> Any:
    if value is None:
        return None
    if kind is KqlType.DATETIME and isinstance(value, datetime):
        return v1_datetime(value.replace(tzinfo=UTC))
    if kind is KqlType.DYNAMIC and v2 and isinstance(value, str):
        try:
            return json.loads(value)  # v2 carries dynamic values as JSON, v1 as their text
        except ValueError:
            return value
    return value


def _rows(result: QueryResult, *, v2: bool) -> list[list[Any]]:
    kinds = [c.type for c in result.columns]
    return [[_cell(v, k, v2=v2) for v, k in zip(row, kinds, strict=True)] for row in result.rows]


def _status(result: QueryResult) -> tuple[int, str, str]:
    if result.truncated:
        return (
            _WARNING,
            "Warning",
            f"Query result set has exceeded the limit of {result.max_rows} records: only the "
            "first ones are returned (E_QUERY_RESULT_SET_TOO_LARGE; narrow the query with "
            "where, take or summarize)",
        )
    return _INFO, "Info", "Query completed successfully"


def v2_frames(
    result: QueryResult, *, now: datetime, client_request_id: str, activity_id: str
) -> list[dict[str, Any]]:
    level, level_name, payload = _status(result)
    return [
        {
            "FrameType": "DataSetHeader",
            "IsProgressive": False,
            "Version": "v2.0",
            "IsFragmented": False,
            "ErrorReportingPlacement": "InData",
        },
        {
            "FrameType": "DataTable",
            "TableId": 1,
            "TableKind": "PrimaryResult",
            "TableName": "PrimaryResult",
            "Columns": [{"ColumnName": c.name, "ColumnType": c.type.value} for c in result.columns],
            "Rows": _rows(result, v2=True),
        },
        {
            "FrameType": "DataTable",
            "TableId": 2,
            "TableKind": "QueryCompletionInformation",
            "TableName": "QueryCompletionInformation",
            "Columns": [
                {"ColumnName": "Timestamp", "ColumnType": "datetime"},
                {"ColumnName": "ClientRequestId", "ColumnType": "string"},
                {"ColumnName": "ActivityId", "ColumnType": "guid"},
                {"ColumnName": "SubActivityId", "ColumnType": "guid"},
                {"ColumnName": "ParentActivityId", "ColumnType": "guid"},
                {"ColumnName": "Level", "ColumnType": "int"},
                {"ColumnName": "LevelName", "ColumnType": "string"},
                {"ColumnName": "StatusCode", "ColumnType": "int"},
                {"ColumnName": "StatusCodeName", "ColumnType": "string"},
                {"ColumnName": "EventType", "ColumnType": "int"},
                {"ColumnName": "EventTypeName", "ColumnType": "string"},
                {"ColumnName": "Payload", "ColumnType": "string"},
            ],
            "Rows": [
                [
                    v1_datetime(now),
                    client_request_id,
                    activity_id,
                    activity_id,
                    activity_id,
                    level,
                    level_name,
                    0,
                    "S_OK (0)",
                    4,
                    "QueryInfo",
                    json.dumps({"Count": 1, "Text": payload}),
                ]
            ],
        },
        {"FrameType": "DataSetCompletion", "HasErrors": result.truncated, "Cancelled": False},
    ]


def v1_tables(
    result: QueryResult, *, now: datetime, client_request_id: str, activity_id: str
) -> dict[str, Any]:
    """Result, status and table of contents, as the service answers v1 queries (the SDK
    names and kinds the tables from the last one)."""
    level, level_name, payload = _status(result)
    status_columns = (
        ("Timestamp", "datetime"),
        ("Severity", "int"),
        ("SeverityName", "string"),
        ("StatusCode", "int"),
        ("StatusDescription", "string"),
        ("Count", "int"),
        ("RequestId", "guid"),
        ("ActivityId", "guid"),
        ("SubActivityId", "guid"),
        ("ClientActivityId", "string"),
    )
    toc_columns = (
        ("Ordinal", "long"),
        ("Kind", "string"),
        ("Name", "string"),
        ("Id", "string"),
        ("PrettyName", "string"),
    )

    def table(index: int, columns: Any, rows: list[list[Any]]) -> dict[str, Any]:
        return {
            "TableName": f"Table_{index}",
            "Columns": [
                {"ColumnName": n, "DataType": V1_DATA_TYPES[t], "ColumnType": t} for n, t in columns
            ],
            "Rows": rows,
        }

    result_columns = [(c.name, c.type.value) for c in result.columns]
    status_row = [
        v1_datetime(now),
        level,
        level_name,
        0,
        payload,
        1,
        activity_id,
        activity_id,
        activity_id,
        client_request_id,
    ]
    toc = [
        [0, "QueryResult", "PrimaryResult", activity_id, ""],
        [1, "QueryStatus", "QueryStatus", activity_id, ""],
    ]
    return {
        "Tables": [
            table(0, result_columns, _rows(result, v2=False)),
            table(1, status_columns, [status_row]),
            table(2, toc_columns, toc),
        ]
    }
