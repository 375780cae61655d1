"""Mappings at work: Statsig column mappings, user tables by name, Kusto CSV ordinals and JSON
paths, constants, the source location and unix-time transforms."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef, mapping_from_kusto
from ingestd.domain.sources import ReadOptions
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import MappingInconsistent, MappingInvalid, MappingMissing

from .harness import Count, Harness, QuarantineRow, count_of, csv_text, ndjson_text

EVENTS = DATASET_TABLES["events"].in_project("test")
METRICS = DATASET_TABLES["metrics"].in_project("test")


def _json(value: Any) -> Any:
    return None if value is None else json.loads(value)


def test_statsig_events_column_mapping(harness: Harness) -> None:
    path = harness.write(
        "events.csv",
        csv_text(
            ["user_id", "event", "ts", "value", "meta", "company", "country"],
            [
                ("u1", "page_view", "1704067200", "3.5", '{"plan": "pro", "seats": 3}', "c1", "NZ"),
                ("u2", "purchase", "2024-01-01T00:00:01Z", None, None, None, "FR"),
                ("u3", "signup", "2024-01-01T02:00:00+02:00", "x", "[1, 2]", "c3", None),
            ],
        ),
    )
    mapping = mapping_from_column_mapping(
        "Events",
        {
            "unit_id": "user_id",
            "event_name": "event",
            "timestamp": "ts",
            "event_value": "value",
            "metadata_object": "meta",
            "ids": {"userID": "user_id", "companyID": "company"},
            "metadata": {"country": "country"},
        },
    )

    result = harness.load(EVENTS, mapping, path)

    assert count_of(result.counts) == Count(3, 3, 0, 0, 0)
    rows = [
        (unit, name, ts, _json(ids), _json(meta), _json(obj), value)
        for unit, name, ts, ids, meta, obj, value in harness.warehouse.query(
            "SELECT unit_id, event_name, timestamp, ids, metadata, metadata_object, event_value "
            "FROM test__statsig.events ORDER BY unit_id"
        )
    ]
    assert rows == [
        (
            "u1",
            "page_view",
            1704067200,
            {"userID": "u1", "companyID": "c1"},
            {"country": "NZ"},
            {"plan": "pro", "seats": 3},
            "3.5",
        ),
        (
            "u2",
            "purchase",
            1704067201,
            {"userID": "u2", "companyID": None},
            {"country": "FR"},
            None,
            None,
        ),
        (
            "u3",
            "signup",
            1704067200,
            {"userID": "u3", "companyID": "c3"},
            {"country": None},
            [1, 2],
            "x",
        ),
    ]


def test_statsig_metrics_need_a_value_or_numerator_and_denominator(harness: Harness) -> None:
    path = harness.write(
        "metrics.csv",
        csv_text(
            ["uid", "id_type", "ds", "name", "value", "num", "den"],
            [
                ("u1", "userID", "2024-01-01", "revenue", "10.5", None, None),
                ("u2", "userID", "2024-01-01", "ctr", None, "3", "4"),
                ("u3", "userID", "2024-01-02", "all_three", "1", "2", "8"),
                ("u4", "userID", "2024-01-01", "numerator_only", None, "3", None),
                ("u5", "userID", "2024-01-01", "nothing", None, None, None),
            ],
        ),
    )
    mapping = mapping_from_column_mapping(
        "Metrics",
        {
            "unit_id": "uid",
            "id_type": "id_type",
            "dateid": "ds",
            "metric_name": "name",
            "metric_value": "value",
            "numerator": "num",
            "denominator": "den",
        },
    )

    result = harness.load(METRICS, mapping, path)

    assert count_of(result.counts) == Count(5, 3, 0, 0, 2)
    assert harness.rows(METRICS) == [
        ("u1", "userID", datetime(2024, 1, 1).date(), "revenue", 10.5, None, None),
        ("u2", "userID", datetime(2024, 1, 1).date(), "ctr", None, 3.0, 4.0),
        ("u3", "userID", datetime(2024, 1, 2).date(), "all_three", 1.0, 2.0, 8.0),
    ]
    quarantined = harness.quarantine()
    assert [(q.record, q.code, q.column) for q in quarantined] == [
        (4, "RULE_VIOLATION", "metric_value"),
        (5, "RULE_VIOLATION", "metric_value"),
    ]
    assert all("numerator and denominator" in q.message for q in quarantined)
    assert _json(quarantined[0].raw)["name"] == "numerator_only"


ORDERS = TableSpec(
    "shop",
    "orders",
    (
        Column("order_id", ColumnType.INT64, nullable=False),
        Column("customer", ColumnType.STRING),
        Column("amount", ColumnType.FLOAT64),
        Column("placed", ColumnType.DATE),
        Column("paid", ColumnType.BOOL),
    ),
    primary_key=("order_id",),
    project="test",
)


def _by_column(**targets: str) -> Mapping:
    return Mapping(
        tuple(
            FieldMapping(target, SourceRef(RefKind.COLUMN, src)) for target, src in targets.items()
        )
    )


def test_user_table_by_column_name_ignores_order_and_extra_columns(harness: Harness) -> None:
    path = harness.write(
        "orders.csv",
        csv_text(
            ["Paid?", "Placed On", "unused", "Customer Name", "Order ID", "Amount"],
            [
                ("true", "2024-03-01", "x", "Ann", "7", "19.99"),
                ("false", "2024-03-02", "y", "Bob", "8", "0"),
            ],
        ),
    )
    mapping = _by_column(
        order_id="Order ID",
        customer="Customer Name",
        amount="Amount",
        placed="Placed On",
        paid="Paid?",
    )

    harness.load(ORDERS, mapping, path)

    assert harness.rows(ORDERS) == [
        (7, "Ann", 19.99, datetime(2024, 3, 1).date(), True),
        (8, "Bob", 0.0, datetime(2024, 3, 2).date(), False),
    ]


def test_a_column_the_file_lacks_is_a_mapping_error(harness: Harness) -> None:
    path = harness.write("orders.csv", "Order ID,Customer\n1,Ann\n")

    with pytest.raises(MappingInconsistent, match="'Amount'") as caught:
        harness.load(ORDERS, _by_column(order_id="Order ID", amount="Amount"), path)

    assert caught.value.code == "MAPPING_INCONSISTENT"
    assert harness.ledger() == []


def test_a_mapping_to_a_column_the_table_lacks_is_invalid(harness: Harness) -> None:
    path = harness.write("orders.csv", "id\n1\n")

    with pytest.raises(MappingInvalid, match="'discount'"):
        harness.load(ORDERS, _by_column(order_id="id", discount="id"), path)


def test_csv_ordinal_past_the_last_field_is_a_mapping_error(harness: Harness) -> None:
    path = harness.write("orders.csv", "1,Ann\n2,Bob\n")
    mapping = mapping_from_kusto(
        "csv",
        [
            {"Column": "order_id", "Properties": {"Ordinal": "0"}},
            {"Column": "customer", "Ordinal": 5},
        ],
    )

    with pytest.raises(MappingInconsistent, match="field 5"):
        harness.load(ORDERS, mapping, path, options=ReadOptions(header=False))


VISITS = TableSpec(
    "web",
    "visits",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("city", ColumnType.STRING),
        Column("tag", ColumnType.STRING),
        Column("feed", ColumnType.STRING),
        Column("origin", ColumnType.STRING),
        Column("at", ColumnType.TIMESTAMP),
    ),
    project="test",
)
VISITS_JSON_MAPPING = mapping_from_kusto(
    "json",
    [
        {"Column": "id", "Properties": {"Path": "$.id"}},
        {"Column": "name", "Properties": {"Path": "$.user.name"}},
        {"Column": "city", "Properties": {"Path": "$.user.address.city"}},
        {"Column": "tag", "Properties": {"Path": "$.tags['first tag']"}},
        {"Column": "feed", "Properties": {"ConstValue": "feed-a"}},
        {"Column": "origin", "Properties": {"Transform": "SourceLocation"}},
        {
            "Column": "at",
            "Properties": {"Path": "$.ms", "Transform": "DateTimeFromUnixMilliseconds"},
        },
    ],
)
VISIT_RECORDS: list[dict[str, Any]] = [
    {
        "id": 1,
        "user": {"name": "Ann", "address": {"city": "Oslo"}},
        "tags": {"first tag": "new"},
        "ms": 1704067200123,
    },
    {
        "id": 2,
        "user": {"name": "Bob", "address": {"city": None}},
        "tags": {"first tag": None},
        "ms": None,
    },
]


def _visits_parquet() -> bytes:
    address = pa.struct([("city", pa.string())])
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "user": pa.array(
                [r["user"] for r in VISIT_RECORDS],
                pa.struct([("name", pa.string()), ("address", address)]),
            ),
            "tags": pa.array(
                [r["tags"] for r in VISIT_RECORDS], pa.struct([("first tag", pa.string())])
            ),
            "ms": pa.array([r["ms"] for r in VISIT_RECORDS], pa.int64()),
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _visits_avro() -> bytes:
    schema = {
        "type": "record",
        "name": "Visit",
        "fields": [
            {"name": "id", "type": "long"},
            {
                "name": "user",
                "type": {
                    "type": "record",
                    "name": "User",
                    "fields": [
                        {"name": "name", "type": "string"},
                        {
                            "name": "address",
                            "type": {
                                "type": "record",
                                "name": "Address",
                                "fields": [{"name": "city", "type": ["null", "string"]}],
                            },
                        },
                    ],
                },
            },
            {"name": "tags", "type": {"type": "map", "values": ["null", "string"]}},
            {"name": "ms", "type": ["null", "long"]},
        ],
    }
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), VISIT_RECORDS)
    return out.getvalue()


VISIT_FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "ndjson": ("visits.ndjson", lambda: ndjson_text(VISIT_RECORDS).encode()),
    "multijson": ("visits.multijson", lambda: json.dumps(VISIT_RECORDS).encode()),
    "parquet": ("visits.parquet", _visits_parquet),
    "avro": ("visits.avro", _visits_avro),
}


@pytest.mark.parametrize("fmt", VISIT_FILES, ids=str)
def test_kusto_json_mapping_with_paths_constants_location_and_transform(
    harness: Harness, fmt: str
) -> None:
    name, content = VISIT_FILES[fmt]
    path = harness.write(name, content())

    result = harness.load(VISITS, VISITS_JSON_MAPPING, path, names=(f"https://blobs/{name}",))

    assert count_of(result.counts) == Count(2, 2, 0, 0, 0)
    origin = f"https://blobs/{name}"
    assert harness.rows(VISITS) == [
        (1, "Ann", "Oslo", "new", "feed-a", origin, datetime(2024, 1, 1, 0, 0, 0, 123000)),
        (2, "Bob", None, None, "feed-a", origin, None),
    ]


def test_kusto_csv_mapping_with_ordinals_constant_and_location(harness: Harness) -> None:
    path = harness.write("visits.csv", "1,Ann,1704067200000\n2,Bob,1704067201500\n")
    mapping = mapping_from_kusto(
        "csv",
        [
            {"Column": "id", "Properties": {"Ordinal": "0"}},
            {"Column": "name", "Properties": {"Ordinal": "1"}},
            {"Column": "feed", "Properties": {"ConstValue": "nightly"}},
            {"Column": "origin", "Properties": {"Transform": "SourceLocation"}},
            {
                "Column": "at",
                "Properties": {"Ordinal": "2", "Transform": "DateTimeFromUnixMilliseconds"},
            },
        ],
    )

    harness.load(VISITS, mapping, path, options=ReadOptions(header=False))

    assert harness.rows(VISITS) == [
        (1, "Ann", None, None, "nightly", "visits.csv", datetime(2024, 1, 1)),
        (2, "Bob", None, None, "nightly", "visits.csv", datetime(2024, 1, 1, 0, 0, 1, 500000)),
    ]


STAMPS = TableSpec(
    "web",
    "stamps",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("at", ColumnType.TIMESTAMP),
        Column("second", ColumnType.EPOCH_SECONDS),
    ),
    project="test",
)


def test_unix_millisecond_transform_refuses_what_is_not_a_time(harness: Harness) -> None:
    path = harness.write(
        "stamps.csv",
        csv_text(
            ["id", "ms"],
            [(1, "1704067200123"), (2, "-1000"), (3, "soon"), (4, "1e30"), (5, "inf"), (6, None)],
        ),
    )
    mapping = mapping_from_kusto(
        "csv",
        [
            {"Column": "id", "Properties": {"Ordinal": 0}},
            {
                "Column": "at",
                "Properties": {"Ordinal": 1, "Transform": "DateTimeFromUnixMilliseconds"},
            },
        ],
    )

    result = harness.load(STAMPS, mapping, path)

    assert count_of(result.counts) == Count(6, 3, 0, 0, 3)
    assert harness.rows(STAMPS) == [
        (1, datetime(2024, 1, 1, 0, 0, 0, 123000), None),
        (2, datetime(1969, 12, 31, 23, 59, 59), None),
        (6, None, None),
    ]
    assert [(q.record, q.column, q.code) for q in harness.quarantine()] == [
        (3, "at", "INVALID_TIMESTAMP"),
        (4, "at", "INVALID_TIMESTAMP"),
        (5, "at", "INVALID_TIMESTAMP"),
    ]


def test_unix_millisecond_transform_into_epoch_seconds_refuses_fractions(harness: Harness) -> None:
    path = harness.write(
        "stamps.csv", csv_text(["id", "ms"], [(1, "1704067200000"), (2, "1704067200500")])
    )
    mapping = mapping_from_kusto(
        "csv",
        [
            {"Column": "id", "Properties": {"Ordinal": 0}},
            {
                "Column": "second",
                "Properties": {"Ordinal": 1, "Transform": "DateTimeFromUnixMilliseconds"},
            },
        ],
    )

    result = harness.load(STAMPS, mapping, path)

    assert count_of(result.counts) == Count(2, 1, 0, 0, 1)
    assert harness.rows(STAMPS) == [(1, None, 1704067200)]
    assert harness.quarantine() == [
        QuarantineRow(
            "stamps.csv",
            None,
            2,
            "second",
            "INVALID_TIMESTAMP",
            "value 1704067200500 is not a valid epoch_seconds",
            '{"id":"2","ms":"1704067200500"}',
        )
    ]


def test_json_without_a_mapping_is_refused(harness: Harness) -> None:
    path = harness.write("visits.ndjson", ndjson_text(VISIT_RECORDS))

    with pytest.raises(MappingMissing):
        harness.load(VISITS, Mapping(()), path)
