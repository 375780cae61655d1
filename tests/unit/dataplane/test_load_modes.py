"""Load modes and exactly-once: append reruns replace, upsert counts inserted versus updated,
replace_day replaces a day whatever loaded it, exact duplicates are rejected per file."""

from __future__ import annotations

from datetime import date

import pytest

from ingestd.dataplane import pipeline
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.sources import LoadMode
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import InvalidInput

from .harness import PEOPLE, PEOPLE_BY_NAME, Count, Harness, count_of, csv_text

HEADER = ["id", "name", "score"]
ACCOUNTS = TableSpec(
    "crm",
    "accounts",
    (
        Column("region", ColumnType.STRING, nullable=False),
        Column("id", ColumnType.INT64, nullable=False),
        Column("plan", ColumnType.STRING),
    ),
    primary_key=("region", "id"),
    project="test",
)
ACCOUNTS_BY_NAME = identity_mapping(ACCOUNTS)
DAY_1, DAY_2 = date(2024, 5, 1), date(2024, 5, 2)


def test_append_rerun_of_a_load_key_replaces_never_duplicates(harness: Harness) -> None:
    first = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1), (2, "Bob", 2)]))
    other = harness.write("b.csv", csv_text(HEADER, [(9, "Other", 9)]))
    harness.load(PEOPLE, PEOPLE_BY_NAME, first, key="k1")
    harness.load(PEOPLE, PEOPLE_BY_NAME, other, key="k2")

    again = harness.load(PEOPLE, PEOPLE_BY_NAME, first, key="k1")
    assert count_of(again.counts) == Count(2, 2, 0, 0, 0)
    assert [r[0] for r in harness.rows(PEOPLE)] == [1, 2, 9]

    changed = harness.write("a2.csv", csv_text(HEADER, [(1, "Ann", 1.5)]))
    harness.load(PEOPLE, PEOPLE_BY_NAME, changed, key="k1")
    assert harness.rows(PEOPLE) == [(1, "Ann", 1.5), (9, "Other", 9.0)]
    assert [e["load_key"] for e in harness.ledger()] == ["k1", "k2"]


def test_the_ledger_records_the_load(harness: Harness) -> None:
    path = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1), (1, "Ann", 1), (2, "x", "y")]))
    request = harness.request(PEOPLE, PEOPLE_BY_NAME, path, key="k1", day=DAY_1)
    request = type(request)(**{**request.__dict__, "tags": ("ingest-by:abc",)})

    result = harness.plane.load(request)

    [entry] = harness.ledger()
    assert entry["table_name"] == "demo.people"
    assert (entry["unit_id"], entry["run_id"], entry["mode"], entry["day"]) == (
        "unit-k1",
        "run-1",
        "append",
        DAY_1,
    )
    assert (entry["read"], entry["inserted"], entry["rejected"], entry["errors"]) == (3, 1, 1, 1)
    assert entry["fingerprint"] == result.fingerprint
    assert result.fingerprint.startswith("rows=1;")
    assert harness.warehouse.tag_exists(PEOPLE, "ingest-by:abc")
    assert not harness.warehouse.tag_exists(PEOPLE, "ingest-by:other")


def test_same_rows_give_the_same_fingerprint(harness: Harness) -> None:
    a = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1), (2, "Bob", 2)]))
    b = harness.write("b.csv", csv_text(HEADER, [(2, "Bob", 2), (1, "Ann", 1)]))
    c = harness.write("c.csv", csv_text(HEADER, [(2, "Bob", 2), (1, "Ann", 1.01)]))

    fingerprints = [
        harness.load(PEOPLE, PEOPLE_BY_NAME, p, key=p.name).fingerprint for p in (a, b, c)
    ]

    assert fingerprints[0] == fingerprints[1] != fingerprints[2]


def test_upsert_counts_inserted_and_updated(harness: Harness) -> None:
    header = ["region", "id", "plan"]
    first = harness.write(
        "first.csv", csv_text(header, [("eu", 1, "free"), ("eu", 2, "free"), ("us", 1, "pro")])
    )
    harness.load(ACCOUNTS, ACCOUNTS_BY_NAME, first, key="day-1", mode=LoadMode.UPSERT)
    second = harness.write(
        "second.csv",
        csv_text(
            header,
            [
                ("eu", 2, "pro"),  # existing key: updated
                ("us", 1, "pro"),  # existing key, same values: updated
                ("eu", 3, "free"),  # new key, then repeated below: inserted, then updated
                ("eu", 3, "team"),
                ("eu", 3, "team"),  # exact duplicate: rejected
            ],
        ),
    )
    third = harness.write(
        "third.csv", csv_text(header, [("us", 2, "free"), ("eu", 2, "enterprise")])
    )

    result = harness.load(
        ACCOUNTS, ACCOUNTS_BY_NAME, second, third, key="day-2", mode=LoadMode.UPSERT
    )

    assert [(f.name, count_of(f.counts)) for f in result.files] == [
        ("second.csv", Count(read=5, inserted=1, updated=3, rejected=1, errors=0)),
        ("third.csv", Count(read=2, inserted=1, updated=1, rejected=0, errors=0)),
    ]
    assert harness.rows(ACCOUNTS) == [
        ("eu", 1, "free"),
        ("eu", 2, "enterprise"),
        ("eu", 3, "team"),
        ("us", 1, "pro"),
        ("us", 2, "free"),
    ]


def test_upsert_rerun_of_the_same_load_re_applies_it(harness: Harness) -> None:
    path = harness.write(
        "a.csv", csv_text(["region", "id", "plan"], [("eu", 1, "free"), ("eu", 2, "pro")])
    )
    first = harness.load(ACCOUNTS, ACCOUNTS_BY_NAME, path, mode=LoadMode.UPSERT)

    again = harness.load(ACCOUNTS, ACCOUNTS_BY_NAME, path, mode=LoadMode.UPSERT)

    assert count_of(first.counts) == Count(2, 2, 0, 0, 0)
    assert count_of(again.counts) == Count(2, 0, 2, 0, 0)
    assert harness.count(ACCOUNTS) == 2
    assert again.fingerprint == first.fingerprint


def test_upsert_refuses_a_row_without_its_key(harness: Harness) -> None:
    path = harness.write(
        "a.csv", csv_text(["region", "id", "plan"], [("eu", 1, "free"), (None, 2, "pro")])
    )

    result = harness.load(ACCOUNTS, ACCOUNTS_BY_NAME, path, mode=LoadMode.UPSERT)

    assert count_of(result.counts) == Count(2, 1, 0, 0, 1)
    assert [(q.record, q.column, q.code) for q in harness.quarantine()] == [
        (2, "region", "MISSING_REQUIRED_FIELD")
    ]


def test_upsert_needs_a_primary_key(harness: Harness) -> None:
    path = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1)]))

    with pytest.raises(InvalidInput, match="primary key"):
        harness.load(PEOPLE, PEOPLE_BY_NAME, path, mode=LoadMode.UPSERT)


def test_replace_day_replaces_the_day_whatever_loaded_it(harness: Harness) -> None:
    day1_a = harness.write("d1a.csv", csv_text(HEADER, [(1, "Ann", 1), (2, "Bob", 2)]))
    day1_b = harness.write("d1b.csv", csv_text(HEADER, [(3, "Cy", 3)]))
    day2 = harness.write("d2.csv", csv_text(HEADER, [(4, "Di", 4)]))
    harness.load(
        PEOPLE, PEOPLE_BY_NAME, day1_a, key="src-a/2024-05-01", mode=LoadMode.REPLACE_DAY, day=DAY_1
    )
    harness.load(
        PEOPLE, PEOPLE_BY_NAME, day2, key="src-a/2024-05-02", mode=LoadMode.REPLACE_DAY, day=DAY_2
    )

    result = harness.load(
        PEOPLE, PEOPLE_BY_NAME, day1_b, key="backfill-7", mode=LoadMode.REPLACE_DAY, day=DAY_1
    )

    assert count_of(result.counts) == Count(1, 1, 0, 0, 0)
    assert harness.warehouse.query(
        "SELECT id, _ingestd_day, _ingestd_load_key FROM test__demo.people ORDER BY id"
    ) == [(3, DAY_1, "backfill-7"), (4, DAY_2, "src-a/2024-05-02")]


def test_replace_day_needs_a_day(harness: Harness) -> None:
    path = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1)]))

    with pytest.raises(InvalidInput, match="day"):
        harness.load(PEOPLE, PEOPLE_BY_NAME, path, mode=LoadMode.REPLACE_DAY)


@pytest.mark.parametrize("slice_rows", [None, 1, 2], ids=["one-pass", "per-row", "by-two"])
def test_exact_duplicates_are_rejected_per_file(
    harness: Harness, slice_rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if slice_rows is not None:  # large loads count row hashes a slice at a time
        monkeypatch.setattr(pipeline, "HASH_SLICE_ROWS", slice_rows)
    a = harness.write(
        "a.csv", csv_text(HEADER, [(1, "Ann", 1), (1, "Ann", 1), (2, None, None), (2, None, None)])
    )
    b = harness.write("b.csv", csv_text(HEADER, [(1, "Ann", 1), (1, "Ann", 1.5), (3, "Cy", 3)]))

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, a, b)

    assert [(f.name, count_of(f.counts)) for f in result.files] == [
        ("a.csv", Count(read=4, inserted=2, updated=0, rejected=2, errors=0)),
        ("b.csv", Count(read=3, inserted=2, updated=0, rejected=1, errors=0)),
    ]
    assert harness.rows(PEOPLE) == [
        (1, "Ann", 1.0),
        (1, "Ann", 1.5),
        (2, None, None),
        (3, "Cy", 3.0),
    ]


def test_rows_that_differ_only_in_a_bad_value_are_not_duplicates(harness: Harness) -> None:
    path = harness.write("a.csv", csv_text(HEADER, [(1, "Ann", 1), (1, "Ann", "one")]))

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(2, 1, 0, 0, 1)
