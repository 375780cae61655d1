"""The corpus of bad files: each gives a precise error (a unit error with its code, or
quarantined rows with their code and line), never a crash, and a failed unit commits nothing."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import random
import zipfile
from collections.abc import Callable

import fastavro
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest
import zstandard

from ingestd.dataplane.readers.scan import MAX_RECORD_BYTES
from ingestd.domain.sources import DataFormat, ReadOptions
from ingestd.errors import (
    CorruptCompression,
    EmptyArchive,
    EmptySource,
    FormatNotSupported,
    UnitError,
    WrongFormat,
)

from .harness import (
    PEOPLE,
    PEOPLE_BY_NAME,
    PEOPLE_ROWS,
    Count,
    Harness,
    QuarantineRow,
    count_of,
    csv_text,
    ndjson_text,
)

HEADER = ["id", "name", "score"]
MANY_ROWS = [(i, f"name-{i}", i / 4) for i in range(1, 20_001)]


def _people_parquet() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(
        pa.table({"id": [1, 2], "name": ["a", "b"], "score": pa.array([1.5, 2.5], pa.float64())}),
        sink,
    )
    return bytes(sink.getvalue().to_pybytes())


def _assert_nothing_committed(harness: Harness) -> None:
    assert harness.ledger() == []
    assert harness.quarantine() == []
    tables = harness.warehouse.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'test__demo'"
    )
    if tables != [(0,)]:
        assert harness.count(PEOPLE) == 0


def _load_fails(harness: Harness, error: type[UnitError], *args: object, **kwargs: object) -> str:
    """Load PEOPLE and expect ``error``; return its message."""
    with pytest.raises(error) as caught:
        harness.load(PEOPLE, PEOPLE_BY_NAME, *args, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == error.code
    _assert_nothing_committed(harness)
    return caught.value.message


TRUNCATED: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("people.csv.gz", gzip.compress),
    "zstd": ("people.csv.zst", lambda b: bytes(zstandard.ZstdCompressor().compress(b))),
    "bz2": ("people.csv.bz2", bz2.compress),
    "gzip-parquet": ("people.parquet.gz", gzip.compress),
    "gzip-ndjson": ("people.ndjson.gz", gzip.compress),
}


@pytest.mark.parametrize("case", TRUNCATED, ids=str)
def test_truncated_compressed_stream(harness: Harness, case: str) -> None:
    name, compress = TRUNCATED[case]
    if "parquet" in name:
        plain = _people_parquet()
    elif "ndjson" in name:
        plain = ndjson_text([dict(zip(HEADER, r, strict=True)) for r in MANY_ROWS]).encode()
    else:
        plain = csv_text(HEADER, MANY_ROWS).encode()
    data = compress(plain)
    path = harness.write(name, data[: len(data) // 2])

    message = _load_fails(harness, CorruptCompression, path)

    assert name in message


def test_truncated_gzip_without_a_suffix_is_found_by_its_bytes(harness: Harness) -> None:
    data = gzip.compress(csv_text(HEADER, MANY_ROWS).encode())
    path = harness.write("people.csv", data[: len(data) // 2])

    _load_fails(harness, CorruptCompression, path)


def test_ragged_rows_are_quarantined_with_their_lines(harness: Harness) -> None:
    path = harness.write("people.csv", "id,name,score\n1,Ann,1.5\n2,Bob\n3,Cy,1,extra\n4,Di,2\n")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=4, inserted=2, updated=0, rejected=0, errors=2)
    assert harness.rows(PEOPLE) == [(1, "Ann", 1.5), (4, "Di", 2.0)]
    assert [(q.file, q.line, q.code, q.raw) for q in harness.quarantine()] == [
        ("people.csv", 3, "WRONG_NUMBER_OF_FIELDS", "2,Bob"),
        ("people.csv", 4, "WRONG_NUMBER_OF_FIELDS", "3,Cy,1,extra"),
    ]
    assert all(q.message for q in harness.quarantine())


def test_ragged_rows_of_a_headerless_file_keep_their_lines(harness: Harness) -> None:
    path = harness.write("people.csv", "1,Ann,1.5\n2,Bob\n3,Cy,1\n")
    from .test_readers import BY_ORDINAL

    result = harness.load(PEOPLE, BY_ORDINAL, path, options=ReadOptions(header=False))

    assert count_of(result.counts) == Count(3, 2, 0, 0, 1)
    assert [(q.line, q.code) for q in harness.quarantine()] == [(2, "WRONG_NUMBER_OF_FIELDS")]


def test_unclosed_quote(harness: Harness) -> None:
    path = harness.write("people.csv", 'id,name,score\n1,Ann,1.5\n2,"Bob,2.5\n')

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(2, 1, 0, 0, 1)
    assert harness.rows(PEOPLE) == [(1, "Ann", 1.5)]
    [row] = harness.quarantine()
    assert (row.line, row.code) == (3, "UNCLOSED_QUOTE")
    assert row.raw is not None and row.raw.startswith('2,"Bob')


def test_invalid_utf8_row(harness: Harness) -> None:
    path = harness.write("people.csv", b"id,name,score\n1,Ann,1.5\n2,B\xffb,2\n3,Cy,3\n")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(3, 2, 0, 0, 1)
    assert harness.rows(PEOPLE) == [(1, "Ann", 1.5), (3, "Cy", 3.0)]
    assert [(q.line, q.code) for q in harness.quarantine()] == [(3, "INVALID_ENCODING")]


def test_invalid_utf8_in_ndjson(harness: Harness) -> None:
    path = harness.write(
        "people.ndjson", b'{"id": 1, "name": "Ann"}\n{"id": 2, "name": "B\xffb"}\n{"id": 3}\n'
    )

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(3, 2, 0, 0, 1)
    assert harness.rows(PEOPLE) == [(1, "Ann", None), (3, None, None)]
    assert [(q.line, q.code) for q in harness.quarantine()] == [(2, "INVALID_ENCODING")]


def test_malformed_json_lines_are_quarantined_and_good_lines_load(harness: Harness) -> None:
    lines = [
        '{"id": 1, "name": "Ann"}',
        '{"id": 2, "name": ',
        '{"id": 3, "name": "Cy"}',
        "not json at all",
        "[1, 2]",
        "",
        '{"id": "x4", "name": "Di"}',
        '{"id": 5, "name": "Ed"}',
    ]
    path = harness.write("people.ndjson", "\n".join(lines) + "\n")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(read=7, inserted=3, updated=0, rejected=0, errors=4)
    assert harness.rows(PEOPLE) == [(1, "Ann", None), (3, "Cy", None), (5, "Ed", None)]
    quarantined = harness.quarantine()
    assert [(q.line, q.code, q.raw) for q in quarantined if q.line is not None] == [
        (2, "MALFORMED_JSON", lines[1]),
        (4, "MALFORMED_JSON", lines[3]),
        (5, "NOT_AN_OBJECT", lines[4]),
    ]
    [typed] = [q for q in quarantined if q.line is None]
    assert (typed.column, typed.code) == ("id", "TYPE_MISMATCH")
    assert json.loads(typed.raw or "")["id"] == "x4"


@pytest.mark.parametrize("line", ["[1, 2]", "42", '"text"'])
def test_a_json_line_that_is_not_an_object(harness: Harness, line: str) -> None:
    path = harness.write("people.ndjson", f'{{"id": 1}}\n{line}\n{{"id": 3}}\n')

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(3, 2, 0, 0, 1)
    assert harness.quarantine() == [
        QuarantineRow(
            "people.ndjson",
            2,
            None,
            None,
            "NOT_AN_OBJECT",
            "the line is JSON but not an object",
            line,
        )
    ]


def test_json_line_numbers_count_blank_and_unreadable_lines(harness: Harness) -> None:
    content = (
        b'{"id": 1}\r\n\r\n{"id": 3, "name": "\xff"}\r\n{"id": 4}\r\n{"id": 5,\r\n{"id": 6}\r\n'
    )
    path = harness.write("people.ndjson.gz", gzip.compress(content))

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(5, 3, 0, 0, 2)
    assert [r[0] for r in harness.rows(PEOPLE)] == [1, 4, 6]
    assert [(q.line, q.code) for q in harness.quarantine()] == [
        (3, "INVALID_ENCODING"),
        (5, "MALFORMED_JSON"),
    ]


def test_bad_rows_deep_in_a_large_csv_keep_their_lines(harness: Harness) -> None:
    lines = ["id,name,score", *(f"{i},n{i},{i}" for i in range(1, 300_001))]
    lines[123_456] = "123456,missing-a-field"
    lines[299_998] = '299998,"unclosed,1'
    path = harness.write("people.csv", "\n".join(lines) + "\n")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    # The unclosed quote runs to the end of the file: the last three lines are one bad record,
    # kept whole in the quarantine.
    assert count_of(result.counts) == Count(299_998, 299_996, 0, 0, 2)
    ragged, unclosed = harness.quarantine()
    assert (ragged.line, ragged.code, ragged.raw) == (
        123_457,
        "WRONG_NUMBER_OF_FIELDS",
        "123456,missing-a-field",
    )
    assert (unclosed.line, unclosed.code) == (299_999, "UNCLOSED_QUOTE")
    assert unclosed.raw == "\n".join(lines[299_998:]) + "\n"


def test_wrong_types_in_a_typed_source(harness: Harness) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1.0, 2.5, 3.0], pa.float64()),
                "name": ["a", "b", "c"],
                "score": pa.array(["1", "two", None]),
            }
        ),
        sink,
    )
    path = harness.write("people.parquet", sink.getvalue().to_pybytes())

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(3, 2, 0, 0, 1)
    assert harness.rows(PEOPLE) == [(1, "a", 1.0), (3, "c", None)]
    [row] = harness.quarantine()
    assert (row.record, row.column, row.code) == (2, "id", "TYPE_MISMATCH")
    assert row.message == "value 2.5 is not a valid int64"


EMPTY = {
    "zero-byte-csv": ("people.csv", b""),
    "zero-byte-parquet": ("people.parquet", b""),
    "zero-byte-gzip-csv": ("people.csv.gz", gzip.compress(b"")),
    "header-only-csv": ("people.csv", b"id,name,score\n"),
    "header-only-no-newline": ("people.csv", b"id,name,score"),
    "blank-lines-ndjson": ("people.ndjson", b"\n\n  \n"),
    "empty-json-array": ("people.multijson", b"[]"),
    "parquet-without-rows": ("people.parquet", b""),
    "avro-without-records": ("people.avro", b""),
    "orc-without-rows": ("people.orc", b""),
}


@pytest.mark.parametrize("case", EMPTY.values(), ids=EMPTY.keys())
def test_empty_data_loads_nothing_and_says_so(harness: Harness, case: tuple[str, bytes]) -> None:
    name, content = case
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("score", pa.float64())])
    sink = pa.BufferOutputStream()
    if case is EMPTY["parquet-without-rows"]:
        pq.write_table(schema.empty_table(), sink)
        content = sink.getvalue().to_pybytes()
    elif case is EMPTY["avro-without-records"]:
        avro_schema = {
            "type": "record",
            "name": "Person",
            "fields": [
                {"name": n, "type": ["null", t]}
                for n, t in zip(HEADER, ["long", "string", "double"], strict=True)
            ],
        }
        out = io.BytesIO()
        fastavro.writer(out, fastavro.parse_schema(avro_schema), [])
        content = out.getvalue()
    elif case is EMPTY["orc-without-rows"]:
        orc.write_table(schema.empty_table(), sink)
        content = sink.getvalue().to_pybytes()
    path = harness.write(name, content)

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert result.empty
    assert [(f.name, count_of(f.counts)) for f in result.files] == [(name, Count(0, 0, 0, 0, 0))]
    assert harness.count(PEOPLE) == 0
    assert len(harness.ledger()) == 1


def test_a_load_without_inputs_is_empty(harness: Harness) -> None:
    result = harness.load(PEOPLE, PEOPLE_BY_NAME)

    assert result.empty
    assert result.files == []
    assert harness.count(PEOPLE) == 0


def test_zero_byte_file_is_an_error_when_blobs_must_have_data(harness: Harness) -> None:
    path = harness.write("people.csv", b"")

    message = _load_fails(harness, EmptySource, path, empty_is_error=True)

    assert "people.csv" in message


def test_a_header_only_file_is_not_an_empty_blob(harness: Harness) -> None:
    path = harness.write("people.csv", b"id,name,score\n")

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path, empty_is_error=True)

    assert result.empty


@pytest.mark.parametrize(
    ("fmt", "size"),
    [("csv", 10 << 20), ("ndjson", 33 << 20)],
    ids=["csv-10MB", "ndjson-33MB-past-what-the-json-reader-holds"],
)
def test_a_record_over_the_size_limit_is_quarantined(harness: Harness, fmt: str, size: int) -> None:
    big = "x" * size
    assert len(big) > MAX_RECORD_BYTES
    if fmt == "csv":
        path = harness.write("people.csv", f"id,name,score\n1,Ann,1\n2,{big},2\n3,Cy,3\n")
    else:
        records = [{"id": 1, "name": "Ann"}, {"id": 2, "name": big}, {"id": 3, "name": "Cy"}]
        path = harness.write("people.ndjson", ndjson_text(records))

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert count_of(result.counts) == Count(3, 2, 0, 0, 1)
    assert [r[0] for r in harness.rows(PEOPLE)] == [1, 3]
    [row] = harness.quarantine()
    expected_line = 3 if fmt == "csv" else 2
    assert (row.line, row.code) == (expected_line, "RECORD_TOO_LARGE")


WRONG_FORMAT = {
    "parquet-declared-for-csv": ("people.csv", DataFormat.PARQUET),
    "json-declared-for-csv": ("people.csv", DataFormat.JSON),
    "multijson-declared-for-csv": ("people.csv", DataFormat.MULTIJSON),
    "avro-declared-for-csv": ("people.csv", DataFormat.AVRO),
    "orc-declared-for-csv": ("people.csv", DataFormat.ORC),
    "tsv-declared-for-binary": ("people.parquet", DataFormat.TSV),
}


@pytest.mark.parametrize("case", WRONG_FORMAT.values(), ids=WRONG_FORMAT.keys())
def test_a_wrongly_declared_format(harness: Harness, case: tuple[str, DataFormat]) -> None:
    name, declared = case
    content = _people_parquet() if name.endswith(".parquet") else csv_text(HEADER, PEOPLE_ROWS)
    path = harness.write(name, content)

    message = _load_fails(harness, WrongFormat, path, options=ReadOptions(format=declared))

    assert name in message


def test_a_truncated_json_array(harness: Harness) -> None:
    path = harness.write("people.multijson", '[{"id": 1}, {"id": 2}, {"id"')

    _load_fails(harness, WrongFormat, path)


def test_binary_garbage_declared_csv(harness: Harness) -> None:
    path = harness.write("people.csv", random.Random(7).randbytes(64 << 10))

    _load_fails(harness, WrongFormat, path)


def test_unknown_format(harness: Harness) -> None:
    path = harness.write("people.data", b"id,name,score\n1,Ann,1\n")

    _load_fails(harness, FormatNotSupported, path)


def test_corrupt_zip(harness: Harness) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("people.csv", csv_text(HEADER, MANY_ROWS))
    data = out.getvalue()
    path = harness.write("people.zip", data[: len(data) // 2])

    _load_fails(harness, CorruptCompression, path)


def test_zip_member_with_a_bad_crc(harness: Harness) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("people.csv", csv_text(HEADER, PEOPLE_ROWS))
    data = bytearray(out.getvalue())
    offset = data.index(b"Ann")
    data[offset : offset + 3] = b"Ann".upper()
    path = harness.write("people.zip", bytes(data))

    _load_fails(harness, CorruptCompression, path)


@pytest.mark.parametrize("members", [["notes.txt"], []], ids=["no-match", "empty-archive"])
def test_zip_without_a_matching_member(harness: Harness, members: list[str]) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member in members:
            archive.writestr(member, "hello\n")
    path = harness.write("people.zip", out.getvalue())

    message = _load_fails(harness, EmptyArchive, path, options=ReadOptions(zip_pattern="*.csv"))

    assert "'*.csv'" in message


def test_nothing_of_a_failed_unit_is_committed_next_to_a_good_file(harness: Harness) -> None:
    good = harness.write("good.csv", csv_text(HEADER, PEOPLE_ROWS))
    data = gzip.compress(csv_text(HEADER, MANY_ROWS).encode())
    bad = harness.write("bad.csv.gz", data[: len(data) // 2])

    _load_fails(harness, CorruptCompression, good, bad)


def test_a_quarantine_row_keeps_the_raw_line(harness: Harness) -> None:
    path = harness.write("people.csv", 'id,name,score\n1,Ann,1.5\n"2","B,b",3,4\n')

    harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    assert harness.quarantine() == [
        QuarantineRow(
            "people.csv",
            3,
            None,
            None,
            "WRONG_NUMBER_OF_FIELDS",
            harness.quarantine()[0].message,
            '"2","B,b",3,4',
        )
    ]
