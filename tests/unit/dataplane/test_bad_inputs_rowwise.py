"""Bad inputs that used to fail unclassified (``Unknown``/INTERNAL_ERROR): each fails with a
precise catalogue code and class, or loads its good rows and quarantines the bad ones."""

from __future__ import annotations

import io

import fastavro
import pytest

from ingestd.domain.error_codes import kusto_error_code
from ingestd.errors import FailureClass, WrongFormat

from .harness import PEOPLE, PEOPLE_BY_NAME, Count, Harness, count_of

AVRO_SCHEMA = {
    "type": "record",
    "name": "Person",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "score", "type": ["null", "double"]},
    ],
}


def _people_avro(codec: str) -> bytes:
    out = io.BytesIO()
    records = ({"id": i, "name": f"name-{i}", "score": i / 4} for i in range(1, 200_001))
    fastavro.writer(out, fastavro.parse_schema(AVRO_SCHEMA), records, codec=codec)
    return out.getvalue()


@pytest.mark.parametrize(
    ("codec", "keep"),
    [
        ("null", 0.02),  # cut inside the first batch of records
        ("null", 0.75),  # cut after a batch went to DuckDB
        ("deflate", 0.5),
        ("null", -3),  # the final sync marker cut short
    ],
    ids=["early", "late", "deflate", "sync-marker"],
)
def test_truncated_avro_fails_with_wrong_format_saying_where(
    harness: Harness, codec: str, keep: float
) -> None:
    data = _people_avro(codec)
    cut = int(len(data) * keep) if keep > 0 else len(data) + int(keep)
    path = harness.write("people.avro", data[:cut])

    with pytest.raises(WrongFormat) as caught:
        harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    error = caught.value
    assert error.code == "WRONG_FORMAT"
    assert error.failure_class is FailureClass.PERMANENT
    assert kusto_error_code(error.code) == "BadRequest_NoRecordsOrWrongFormat"
    assert error.message.startswith("people.avro: the Avro file is truncated or corrupt")
    assert "Invalid Input Error" not in error.message  # ours, not DuckDB's wrapping of it
    assert "stopped after record" in error.message
    assert f"of {cut:,}" in error.message
    assert harness.ledger() == []
    assert harness.quarantine() == []


def test_multijson_array_with_non_objects_loads_the_objects(harness: Harness) -> None:
    path = harness.write(
        "people.multijson",
        '[{"id": 1, "name": "Ann"}, 5, "x", null, [1], {"id": 2, "name": "Bob"}]',
    )

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=6, inserted=2, updated=0, rejected=0, errors=4)
    assert harness.rows(PEOPLE) == [(1, "Ann", None), (2, "Bob", None)]
    assert [(q.file, q.record, q.code, q.message, q.raw) for q in harness.quarantine()] == [
        (
            "people.multijson",
            2,
            "NOT_AN_OBJECT",
            "element 2 of the array is JSON ubigint, not an object",
            "5",
        ),
        (
            "people.multijson",
            3,
            "NOT_AN_OBJECT",
            "element 3 of the array is JSON varchar, not an object",
            '"x"',
        ),
        (
            "people.multijson",
            4,
            "NOT_AN_OBJECT",
            "element 4 of the array is JSON null, not an object",
            "null",
        ),
        (
            "people.multijson",
            5,
            "NOT_AN_OBJECT",
            "element 5 of the array is JSON array, not an object",
            "[1]",
        ),
    ]


def test_multijson_of_only_non_objects_is_wrong_format(harness: Harness) -> None:
    path = harness.write("people.multijson", "[1, 2, 3]")

    with pytest.raises(WrongFormat) as caught:
        harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert caught.value.failure_class is FailureClass.PERMANENT
    assert "people.multijson" in caught.value.message


def test_malformed_multijson_still_fails_whole(harness: Harness) -> None:
    path = harness.write("people.multijson", '[{"id": 1}, 5, {"id": ')

    with pytest.raises(WrongFormat):
        harness.load(PEOPLE, PEOPLE_BY_NAME, path)
    assert harness.ledger() == []
