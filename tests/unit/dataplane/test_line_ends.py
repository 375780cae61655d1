"""CSV records ending in a mix of CRLF, LF and CR: the good rows load, only the bad ones are
quarantined, at the line they have in the file (DuckDB's strict reader refuses such a file
whole; ingestd.dataplane.readers.line_ends rewrites it with LF ends first)."""

from __future__ import annotations

import csv
import gzip
import io

from hypothesis import given
from hypothesis import strategies as st

from ingestd.dataplane.readers.line_ends import _Normalizer
from ingestd.domain.sources import ReadOptions

from .harness import PEOPLE, PEOPLE_BY_NAME, Count, Harness, count_of


def test_mixed_crlf_and_lf_load_the_good_rows_and_quarantine_the_bad(harness: Harness) -> None:
    data = (
        b"id,name,score\r\n"
        b"1,Ann,1.5\n"  # line 2
        b"2,Bob,2,9\r\n"  # line 3: a field too many
        b"3,Cy\n"  # line 4: a field short
        b'4,"Di\r\nna",4\r\n'  # lines 5-6: a quoted CRLF is data
        b"5,Ed,x\n"  # line 7: not a number (the 3rd record the reader returned)
        b"6,Flo,6\r\n"
    )
    path = harness.write("mixed.csv", data)

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=6, inserted=3, updated=0, rejected=0, errors=3)
    assert harness.rows(PEOPLE) == [(1, "Ann", 1.5), (4, "Di\r\nna", 4.0), (6, "Flo", 6.0)]
    assert [(q.line, q.record, q.code, q.raw) for q in harness.quarantine()] == [
        (3, None, "WRONG_NUMBER_OF_FIELDS", "2,Bob,2,9"),
        (4, None, "WRONG_NUMBER_OF_FIELDS", "3,Cy"),
        (None, 3, "TYPE_MISMATCH", '{"id":"5","name":"Ed","score":"x"}'),
    ]


def test_lf_first_then_crlf_loads_every_row(harness: Harness) -> None:
    path = harness.write("lf_first.csv", b"id,name,score\n1,Ann,1\n2,Bob,2\r\n3,Cy,3\r\n4,Di,4")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=4, inserted=4, updated=0, rejected=0, errors=0)
    assert harness.rows(PEOPLE) == [
        (i, n, float(i)) for i, n in enumerate(["Ann", "Bob", "Cy", "Di"], 1)
    ]


def test_mixed_line_ends_in_a_gzip_file(harness: Harness) -> None:
    path = harness.write("mixed.csv.gz", gzip.compress(b"id,name,score\r\n1,Ann,1\n2,Bob,2\r\n"))

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=2, inserted=2, updated=0, rejected=0, errors=0)
    assert [r[1] for r in harness.rows(PEOPLE)] == ["Ann", "Bob"]


def test_backslash_escaped_quotes_keep_their_field_open(harness: Harness) -> None:
    data = b'id,name,score\r\n1,"A \\" \n x",1\n2,Bob,2\r\n'
    path = harness.write("escaped.csv", data)

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path, options=ReadOptions(escape="\\"))

    assert count_of(result.counts) == Count(read=2, inserted=2, updated=0, rejected=0, errors=0)
    assert [r[1] for r in harness.rows(PEOPLE)] == ['A " \n x', "Bob"]


def test_a_cr_only_file_loads_with_its_line_numbers(harness: Harness) -> None:
    # Classic Mac OS line ends: each CR ends a record, as in universal newlines.
    path = harness.write("mac.csv", b"id,name,score\r1,Ann,1\r2,Bob\r3,Cy,3\r")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=3, inserted=2, updated=0, rejected=0, errors=1)
    assert [r[1] for r in harness.rows(PEOPLE)] == ["Ann", "Cy"]
    assert [(q.line, q.code) for q in harness.quarantine()] == [(3, "WRONG_NUMBER_OF_FIELDS")]


def test_cr_mixed_with_lf_loads_every_row(harness: Harness) -> None:
    path = harness.write("cr_lf.csv", b"id,name,score\r1,Ann,1\n2,Bob,2\r3,Cy,3\n")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=3, inserted=3, updated=0, rejected=0, errors=0)


_FIELD = st.text(alphabet=st.sampled_from(["a", ",", '"', "\r", "\n", "é"]), max_size=6)


@given(
    rows=st.lists(st.lists(_FIELD, min_size=1, max_size=3), min_size=1, max_size=8),
    ends=st.lists(st.sampled_from(["\r\n", "\n", "\r"]), min_size=8, max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=20),
)
def test_rewriting_keeps_every_field_and_ends_each_record_with_lf(
    rows: list[list[str]], ends: list[str], cuts: list[int]
) -> None:
    records = []
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(row)
        records.append(buffer.getvalue()[:-2])
    text = "".join(record + ends[i] for i, record in enumerate(records))
    data = text.encode()
    normalizer = _Normalizer(b'"', b'"')
    out, at = b"", 0
    for size in cuts:  # chunk boundaries anywhere, even between a CR and its LF
        out += normalizer.feed(data[at : at + size])
        at += size
    out += normalizer.feed(data[at:], final=True)

    parsed = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert parsed == rows
    used = ends[: len(rows)]
    found = normalizer.ends
    assert (found.crlf, found.lf, found.cr) == (
        used.count("\r\n"),
        used.count("\n"),
        used.count("\r"),
    )
