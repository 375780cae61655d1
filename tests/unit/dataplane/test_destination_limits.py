"""Values that validation passes but a destination cannot store are quarantined there, never
lost and never the cause of a failed unit: PostgreSQL text holds no NUL character, jsonb takes
strict JSON only, and dates before the year 1 are not written to it. DuckDB stores them all."""

from __future__ import annotations

import json

from ingestd.dataplane.destinations.postgres.destination import PostgresDestination
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec

from .harness import Count, Harness, count_of, csv_text, ndjson_text

TABLE = TableSpec(
    "demo",
    "limits",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("doc", ColumnType.JSON),
        Column("day", ColumnType.DATE),
    ),
    project="test",
)
# id -> (doc, day) as CSV text; the rows PostgreSQL refuses, with the column it refuses.
CSV_ROWS = {
    1: ('{"a": [1, 2.5e3, "NaN, Infinity,]"]}', "2024-01-01"),
    2: ("NaN", None),
    3: ('{"a": -Infinity}', None),
    4: ("[1, 2, ]", None),
    5: ('{"k": "a\\u0000b"}', None),
    6: ('{"k": "a\\\\u0000b"}', None),
    7: ("1e99999", None),
    8: (None, "0000-06-01"),
}
REFUSED = {2: "doc", 3: "doc", 4: "doc", 5: "doc", 7: "doc", 8: "day"}


def test_values_postgresql_cannot_store_are_quarantined_there(harness: Harness) -> None:
    header = ["id", "name", "doc", "day"]
    rows = [(i, f"n{i}", doc, day) for i, (doc, day) in CSV_ROWS.items()]
    path = harness.write("limits.csv", csv_text(header, rows))

    result = harness.load(TABLE, identity_mapping(TABLE), path)

    loaded = {r[0] for r in harness.warehouse.query("SELECT id FROM test__demo.limits")}
    if not isinstance(harness.warehouse, PostgresDestination):
        assert count_of(result.counts) == Count(8, 8, 0, 0, 0)
        assert loaded == set(CSV_ROWS)
        return
    assert count_of(result.counts) == Count(8, 8 - len(REFUSED), 0, 0, len(REFUSED))
    assert loaded == set(CSV_ROWS) - set(REFUSED)
    quarantined = harness.quarantine()
    assert [(q.record, q.column, q.code) for q in quarantined] == [
        (i, column, "TYPE_MISMATCH") for i, column in REFUSED.items()
    ]
    assert "strict JSON" in quarantined[0].message
    assert "before the year 1" in quarantined[-1].message
    # The raw record is the typed row, as for a skipped file's rows.
    assert json.loads(quarantined[0].raw or "")["id"] == 2
    [(doc,)] = harness.warehouse.query("SELECT doc FROM test__demo.limits WHERE id = 6")
    assert json.loads(doc) == {"k": "a\\u0000b"}


def test_text_with_a_nul_character(harness: Harness) -> None:
    path = harness.write(
        "nul.ndjson", ndjson_text([{"id": 1, "name": "plain"}, {"id": 2, "name": "a\u0000b"}])
    )

    result = harness.load(TABLE, identity_mapping(TABLE), path)

    if not isinstance(harness.warehouse, PostgresDestination):
        assert count_of(result.counts) == Count(2, 2, 0, 0, 0)
        return
    assert count_of(result.counts) == Count(2, 1, 0, 0, 1)
    [row] = harness.quarantine()
    assert (row.record, row.column, row.code) == (2, "name", "TYPE_MISMATCH")
    # The message shows the value with U+FFFD for the NUL; the raw record escapes it.
    assert "a\ufffdb" in row.message
    assert json.loads(row.raw or "")["name"] == "a\x00b"
