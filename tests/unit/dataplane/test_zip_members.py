"""A zip of many small members: each member is a file of its own in the counts (Amperity and
Kusto report per file), exact whatever the number of members."""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import pytest

from .harness import PEOPLE, PEOPLE_BY_NAME, Count, Harness, count_of


def test_each_member_of_a_many_member_zip_has_its_own_exact_counts(harness: Harness) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(60):
            bad = "\n9,Bad,not-a-number" if i % 20 == 7 else ""
            archive.writestr(f"part/m{i:03}.csv", f"id,name,score\n{i},n{i},1.5{bad}\n")
    path = harness.write("many.zip", buffer.getvalue())

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert [f.name for f in result.files] == [f"many.zip/part/m{i:03}.csv" for i in range(60)]
    for i, file in enumerate(result.files):
        expected = Count(2, 1, 0, 0, 1) if i % 20 == 7 else Count(1, 1, 0, 0, 0)
        assert count_of(file.counts) == expected, file.name
    assert count_of(result.counts) == Count(read=63, inserted=60, updated=0, rejected=0, errors=3)
    assert sorted((q.file, q.record) for q in harness.quarantine()) == [
        (f"many.zip/part/m{i:03}.csv", 2) for i in (7, 27, 47)
    ]


HEADER = "id,name,score"
LAST = "m6 it's'); --.csv"
"""A member name with quotes: the multi-file read's SQL names each member's file."""
MIXED_MEMBERS = {
    "m0.csv": f"{HEADER}\n1,Ann,1.5\n2,Bob,2.5\n",
    "m1.csv": f"{HEADER}\n3,Cy,1\n4,Dee\n5,Eve,2\n",  # line 3: a field short
    "m2.csv": "name,id,score\nFay,6,0.5\nGus,x,1\n",  # another header; record 2: id not a number
    "m3.csv": f"{HEADER}\n7,Hal,not-a-number\n8,Ivy,3\n9,Jo,4,extra\n",
    # 1,Ann,1.5 repeats a row of m0 (another read), 8,Ivy,3 one of m3 (the same read)
    "m4.csv": f"{HEADER}\n1,Ann,1.5\n8,Ivy,3\n10,Kim,5\n",
    "m5.csv": f"{HEADER}\n",  # a header and no records
    LAST: f"{HEADER}\n11,Lu,6\n",
}
"""Members mixing good rows, reader rejects, typing errors, a duplicate, an empty member and one
member with a header of its own (which splits the multi-file reads: m0-m1, m2, m3-m6)."""


def _zip(harness: Harness, members: dict[str, str]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return harness.write("mixed.zip", buffer.getvalue())


def _quarantined(harness: Harness) -> list[tuple[str, int | None, int | None, str | None, str]]:
    return sorted(
        ((q.file, q.line, q.record, q.column, q.code) for q in harness.quarantine()),
        key=lambda q: (q[0], q[1] or 0, q[2] or 0),
    )


EXPECTED_MIXED_COUNTS = [
    Count(2, 2, 0, 0, 0),
    Count(3, 2, 0, 0, 1),
    Count(2, 1, 0, 0, 1),
    Count(3, 1, 0, 0, 2),
    Count(3, 1, 0, 2, 0),
    Count(0, 0, 0, 0, 0),
    Count(1, 1, 0, 0, 0),
]
EXPECTED_MIXED_QUARANTINE = [
    ("mixed.zip/m1.csv", 3, None, "score", "WRONG_NUMBER_OF_FIELDS"),
    ("mixed.zip/m2.csv", None, 2, "id", "TYPE_MISMATCH"),
    ("mixed.zip/m3.csv", None, 1, "score", "TYPE_MISMATCH"),
    ("mixed.zip/m3.csv", 4, None, None, "WRONG_NUMBER_OF_FIELDS"),
]


def test_members_with_good_and_bad_rows_and_another_header_keep_exact_counts(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    path = _zip(harness, MIXED_MEMBERS)

    with caplog.at_level(logging.INFO, logger="ingestd.dataplane.pipeline"):
        result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert [f.name for f in result.files] == [f"mixed.zip/{n}" for n in MIXED_MEMBERS]
    assert [count_of(f.counts) for f in result.files] == EXPECTED_MIXED_COUNTS
    assert _quarantined(harness) == EXPECTED_MIXED_QUARANTINE
    # A typing error's raw record is its own member's fields, nothing of the multi-file read.
    assert {q.raw for q in harness.quarantine() if q.record == 2} == {
        '{"name":"Gus","id":"x","score":"1"}'
    }
    assert sorted(harness.rows(PEOPLE)) == [
        (1, "Ann", 1.5),
        (2, "Bob", 2.5),
        (3, "Cy", 1.0),
        (5, "Eve", 2.0),
        (6, "Fay", 0.5),
        (8, "Ivy", 3.0),
        (10, "Kim", 5.0),
        (11, "Lu", 6.0),
    ]
    # The members sharing a header were read together: no multi-file read had to be redone.
    assert not [r for r in caplog.records if "multi-file read" in r.getMessage()]


def test_a_member_with_mixed_line_ends_is_read_on_its_own_and_the_rest_together(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    members = dict(MIXED_MEMBERS)
    # CRLF, then LF: the strict reader refuses this member, so the multi-file read it is part
    # of fails and is redone in halves, down to this member alone (rewritten with LF ends).
    members[LAST] = f"{HEADER}\r\n11,Lu,6\r\n12,Mo,7\n"
    path = _zip(harness, members)

    with caplog.at_level(logging.INFO, logger="ingestd.dataplane.pipeline"):
        result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert [count_of(f.counts) for f in result.files] == [
        *EXPECTED_MIXED_COUNTS[:-1],
        Count(2, 2, 0, 0, 0),
    ]
    assert _quarantined(harness) == EXPECTED_MIXED_QUARANTINE
    assert (12, "Mo", 7.0) in harness.rows(PEOPLE)
    assert [r for r in caplog.records if "multi-file read" in r.getMessage()]
