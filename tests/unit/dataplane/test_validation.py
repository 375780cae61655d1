"""Validation: bad values are quarantined with a stable code, the column, the record, a message
and the raw record; they are never rounded, truncated or dropped."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.row_errors import RowError
from ingestd.domain.tables import Column, ColumnType, TableSpec

from .harness import Count, Harness, QuarantineRow, count_of, csv_text, ndjson_text

TYPED = TableSpec(
    "demo",
    "typed",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("qty", ColumnType.INT64),
        Column("day", ColumnType.DATE),
        Column("ok", ColumnType.BOOL),
        Column("price", ColumnType.FLOAT64),
        Column("at", ColumnType.TIMESTAMP),
        Column("doc", ColumnType.JSON),
    ),
    project="test",
)
HEADER = [c.name for c in TYPED.columns]
GOOD: dict[str, str] = {
    "id": "0",
    "qty": "5",
    "day": "2024-01-01",
    "ok": "true",
    "price": "1.25",
    "at": "2024-01-01 10:00:00",
    "doc": '{"a": 1}',
}
GOOD_LOADED = (5, date(2024, 1, 1), True, 1.25, datetime(2024, 1, 1, 10), '{"a": 1}')


def _typed_file(harness: Harness, column: str, value: str) -> None:
    rows = [
        {**GOOD, "id": "1"},
        {**GOOD, "id": "2", column: value},
        {**GOOD, "id": "3"},
    ]
    harness.write("typed.csv", csv_text(HEADER, [tuple(r[c] for c in HEADER) for r in rows]))


BAD_VALUES = {
    "int64-fraction": ("qty", "1.5", RowError.TYPE_MISMATCH),
    "int64-fraction-past-double-precision": ("qty", "9007199254740993.5", RowError.TYPE_MISMATCH),
    "int64-overflow": ("qty", "9223372036854775808", RowError.TYPE_MISMATCH),
    "int64-exponent": ("qty", "1e3", RowError.TYPE_MISMATCH),
    "int64-hex": ("qty", "0x10", RowError.TYPE_MISMATCH),
    "int64-words": ("qty", "five", RowError.TYPE_MISMATCH),
    "date-with-time": ("day", "2024-01-01 10:00", RowError.TYPE_MISMATCH),
    "date-impossible": ("day", "2024-02-30", RowError.TYPE_MISMATCH),
    "date-two-digit-year": ("day", "24-01-01", RowError.TYPE_MISMATCH),
    "date-infinity": ("day", "infinity", RowError.TYPE_MISMATCH),
    "bool-word": ("ok", "maybe", RowError.TYPE_MISMATCH),
    "float64-overflow": ("price", "1e400", RowError.TYPE_MISMATCH),
    "float64-decimal-comma": ("price", "1,5", RowError.TYPE_MISMATCH),
    "timestamp-words": ("at", "next tuesday", RowError.INVALID_TIMESTAMP),
    "timestamp-epoch-keyword": ("at", "epoch", RowError.INVALID_TIMESTAMP),
    "json-invalid": ("doc", "{not json", RowError.TYPE_MISMATCH),
    "required-blank": ("id", "   ", RowError.MISSING_REQUIRED_FIELD),
}


@pytest.mark.parametrize(("column", "value", "code"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_a_bad_value_is_quarantined_never_converted(
    harness: Harness, column: str, value: str, code: RowError
) -> None:
    _typed_file(harness, column, value)

    result = harness.load(TYPED, identity_mapping(TYPED), harness.root / "in" / "typed.csv")

    assert count_of(result.counts) == Count(read=3, inserted=2, updated=0, rejected=0, errors=1)
    assert harness.rows(TYPED) == [(1, *GOOD_LOADED), (3, *GOOD_LOADED)]
    [row] = harness.quarantine()
    assert (row.file, row.line, row.record, row.column, row.code) == (
        "typed.csv",
        None,
        2,
        column,
        code.value,
    )
    assert json.loads(row.raw or "") == {**GOOD, "id": "2", column: value}
    if code is RowError.MISSING_REQUIRED_FIELD:
        assert row.message == f"required field {column} is missing or empty"
    else:
        assert value.strip() in row.message
        assert str(TYPED.column(column).type) in row.message


GOOD_VALUES: dict[str, tuple[str, str, Any]] = {
    "int64-padded": ("qty", "  42 ", 42),
    "int64-negative": ("qty", "-7", -7),
    "int64-zero-fraction": ("qty", "42.000", 42),
    "int64-max": ("qty", "9223372036854775807", 9223372036854775807),
    "int64-blank-is-null": ("qty", "", None),
    "date-midnight": ("day", "2024-03-04T00:00:00Z", date(2024, 3, 4)),
    "bool-yes": ("ok", "YES", True),
    "bool-zero": ("ok", "0", False),
    "float64-exponent": ("price", "-2.5e-3", -0.0025),
    "timestamp-offset-to-utc": ("at", "2024-01-01T10:00:00+02:00", datetime(2024, 1, 1, 8)),
    "timestamp-date-only": ("at", "2024-01-01", datetime(2024, 1, 1)),
}


@pytest.mark.parametrize(
    ("column", "value", "loaded"), GOOD_VALUES.values(), ids=GOOD_VALUES.keys()
)
def test_a_good_value_loads_exactly(harness: Harness, column: str, value: str, loaded: Any) -> None:
    _typed_file(harness, column, value)

    result = harness.load(TYPED, identity_mapping(TYPED), harness.root / "in" / "typed.csv")

    assert count_of(result.counts) == Count(3, 3, 0, 0, 0)
    [got] = harness.warehouse.query(f'SELECT "{column}" FROM test__demo.typed WHERE id = 2')
    assert got == (loaded,)


EVENTS = DATASET_TABLES["events"].in_project("test")
EVENTS_MAPPING = mapping_from_column_mapping(
    "Events",
    {"unit_id": "user", "event_name": "event", "timestamp": "ts", "ids": {"userID": "user"}},
)
LONG_NAME = "e" * 129


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_statsig_event_rules(harness: Harness, fmt: str) -> None:
    records: list[dict[str, Any]] = [
        {"user": "u1", "event": "ok", "ts": "1704067200"},
        {"user": "u2", "ts": "1704067200"},
        {"user": "u3", "event": LONG_NAME, "ts": "1704067200"},
        {"user": "u4", "event": "e" * 128, "ts": "1704067200"},
        {"user": "u5", "event": "late", "ts": "last week"},
        {"user": "u6", "event": "fractional", "ts": "1704067200.5"},
        {"user": "u7", "event": "no_time"},
    ]
    if fmt == "csv":
        header = ["user", "event", "ts"]
        path = harness.write(
            "events.csv", csv_text(header, [tuple(r.get(k) for k in header) for r in records])
        )
        raws = [{k: r.get(k) for k in header} for r in records]
    else:
        path = harness.write("events.ndjson", ndjson_text(records))
        raws = [{k: r.get(k) for k in ("user", "event", "ts")} for r in records]

    result = harness.load(EVENTS, EVENTS_MAPPING, path)

    assert count_of(result.counts) == Count(7, 2, 0, 0, 5)
    assert harness.warehouse.query(
        "SELECT unit_id, length(event_name), timestamp FROM test__statsig.events ORDER BY unit_id"
    ) == [("u1", 2, 1704067200), ("u4", 128, 1704067200)]
    quarantined = harness.quarantine()
    assert [(q.file, q.record, q.column, q.code) for q in quarantined] == [
        (path.name, 2, "event_name", "MISSING_REQUIRED_FIELD"),
        (path.name, 3, "event_name", "VALUE_TOO_LONG"),
        (path.name, 5, "timestamp", "INVALID_TIMESTAMP"),
        (path.name, 6, "timestamp", "INVALID_TIMESTAMP"),
        (path.name, 7, "timestamp", "MISSING_REQUIRED_FIELD"),
    ]
    assert quarantined[1].message == "event_name has 129 characters; the limit is 128"
    assert "last week" in quarantined[2].message
    assert [json.loads(q.raw or "") for q in quarantined] == [raws[i] for i in (1, 2, 4, 5, 6)]


def test_first_broken_rule_is_reported(harness: Harness) -> None:
    path = harness.write(
        "events.csv", csv_text(["user", "event", "ts"], [("u1", LONG_NAME, "soon")])
    )

    result = harness.load(EVENTS, EVENTS_MAPPING, path)

    assert count_of(result.counts) == Count(1, 0, 0, 0, 1)
    assert [(q.code, q.column) for q in harness.quarantine()] == [
        ("INVALID_TIMESTAMP", "timestamp")
    ]


def test_quarantine_of_a_rerun_replaces_the_earlier_one(harness: Harness) -> None:
    bad = harness.write("a.csv", csv_text(["user", "event", "ts"], [("u1", "x", "soon")]))
    harness.load(EVENTS, EVENTS_MAPPING, bad)
    good = harness.write("b.csv", csv_text(["user", "event", "ts"], [("u1", "x", "1")]))

    harness.load(EVENTS, EVENTS_MAPPING, good)

    assert harness.quarantine() == []
    assert harness.count(EVENTS) == 1


def test_quarantine_row_carries_the_unit(harness: Harness) -> None:
    path = harness.write("a.csv", csv_text(["user", "event", "ts"], [("u1", "x", "soon")]))

    harness.load(EVENTS, EVENTS_MAPPING, path, key="unit-key-7")

    assert harness.warehouse.query(
        "SELECT load_key, unit_id, run_id, table_name, quarantined_at IS NOT NULL "
        "FROM _ingestd.quarantine"
    ) == [("unit-key-7", "unit-unit-key-7", "run-1", "statsig.events", True)]
    assert harness.quarantine("unit-key-7") == [
        QuarantineRow(
            "a.csv",
            None,
            1,
            "timestamp",
            "INVALID_TIMESTAMP",
            "value soon is not a valid epoch_seconds",
            '{"user":"u1","event":"x","ts":"soon"}',
        )
    ]


TYPED_SOURCE = TableSpec(
    "demo",
    "from_parquet",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("flag", ColumnType.BOOL),
        Column("day", ColumnType.DATE),
        Column("second", ColumnType.EPOCH_SECONDS),
        Column("text", ColumnType.STRING),
    ),
    project="test",
)


def test_typed_sources_convert_exactly_or_are_quarantined(harness: Harness) -> None:
    midnight, later = datetime(2024, 1, 1), datetime(2024, 1, 1, 10, 0, 0, 500000)
    second = datetime(2024, 1, 1, 0, 0, 1)
    columns = {
        "id": pa.array([1.0, 2.5, 3.0, 4.0, 5.0, 6.0], pa.float64()),
        "flag": pa.array([0, 1, 1, 2, 0, 1], pa.int64()),
        "day": pa.array(
            [midnight, midnight, midnight, midnight, later, midnight], pa.timestamp("us")
        ),
        "second": pa.array(
            [midnight, midnight, later, midnight, midnight, second], pa.timestamp("us")
        ),
        "text": pa.array([0.1, 2.0, None, 4.0, 5.0, 2.0], pa.float64()),
    }
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    path = harness.write("typed.parquet", sink.getvalue().to_pybytes())

    result = harness.load(TYPED_SOURCE, identity_mapping(TYPED_SOURCE), path)

    assert count_of(result.counts) == Count(6, 2, 0, 0, 4)
    assert harness.rows(TYPED_SOURCE) == [
        (1, False, date(2024, 1, 1), 1704067200, "0.1"),
        (6, True, date(2024, 1, 1), 1704067201, "2.0"),
    ]
    assert [(q.record, q.column, q.code) for q in harness.quarantine()] == [
        (2, "id", "TYPE_MISMATCH"),
        (3, "second", "INVALID_TIMESTAMP"),
        (4, "flag", "TYPE_MISMATCH"),
        (5, "day", "TYPE_MISMATCH"),
    ]
