"""Readers: every format, dialect option and compression loads the same rows.

Each case writes the three PEOPLE rows (a delimiter inside a value, quotes, non-ASCII text and a
null) in one format and checks what lands in the table.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import fastavro
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest
import zstandard

from ingestd.domain.mapping import Mapping, mapping_from_kusto
from ingestd.domain.sources import Compression, DataFormat, ReadOptions

from .harness import PEOPLE, PEOPLE_BY_NAME, PEOPLE_ROWS, Count, Harness, count_of, csv_text

HEADER = ["id", "name", "score"]
BY_ORDINAL = mapping_from_kusto(
    "csv",
    [
        {"Column": "id", "Properties": {"Ordinal": "0"}},
        {"Column": "name", "Properties": {"Ordinal": "1"}},
        {"Column": "score", "Properties": {"Ordinal": 2}},
    ],
)


def _records() -> list[dict[str, object]]:
    return [dict(zip(HEADER, row, strict=True)) for row in PEOPLE_ROWS]


def _arrow() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([r[0] for r in PEOPLE_ROWS], pa.int64()),
            "name": pa.array([r[1] for r in PEOPLE_ROWS], pa.string()),
            "score": pa.array([r[2] for r in PEOPLE_ROWS], pa.float64()),
        }
    )


def _csv(delimiter: str = ",", *, header: bool = True, newline: str = "\n") -> bytes:
    text = csv_text(HEADER if header else None, PEOPLE_ROWS, delimiter=delimiter)
    return text.replace("\n", newline).encode()


def _parquet() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(_arrow(), sink)
    return bytes(sink.getvalue().to_pybytes())


def _orc() -> bytes:
    sink = pa.BufferOutputStream()
    orc.write_table(_arrow(), sink)
    return bytes(sink.getvalue().to_pybytes())


def _avro() -> bytes:
    schema = {
        "type": "record",
        "name": "Person",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string"},
            {"name": "score", "type": ["null", "double"]},
        ],
    }
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), _records())
    return out.getvalue()


def _ndjson() -> bytes:
    return "".join(json.dumps(r) + "\n" for r in _records()).encode()


def _json_array() -> bytes:
    return json.dumps(_records(), indent=2).encode()


def _concatenated_objects() -> bytes:
    return "\n".join(json.dumps(r, indent=2) for r in _records()).encode()


@dataclass(frozen=True)
class Case:
    file_name: str
    content: Callable[[], bytes]
    options: ReadOptions = field(default_factory=ReadOptions)
    mapping: Mapping = PEOPLE_BY_NAME


CASES = {
    "csv": Case("people.csv", _csv),
    "csv-crlf": Case("people.csv", lambda: _csv(newline="\r\n")),
    "csv-utf8-bom": Case("people.csv", lambda: b"\xef\xbb\xbf" + _csv()),
    "tsv": Case("people.tsv", lambda: _csv("\t")),
    "psv": Case("people.psv", lambda: _csv("|")),
    "scsv": Case("people.scsv", lambda: _csv(";")),
    "csv-custom-delimiter": Case("people.csv", lambda: _csv(";"), ReadOptions(delimiter=";")),
    "csv-no-header-by-ordinal": Case(
        "people.csv", lambda: _csv(header=False), ReadOptions(header=False), BY_ORDINAL
    ),
    "csv-ignore-first-record-by-ordinal": Case(
        "people.csv", _csv, ReadOptions(header=False, skip_first_record=True), BY_ORDINAL
    ),
    "csv-single-quote": Case(
        "people.csv",
        lambda: "id,name,score\n1,Ann,1.5\n2,'Bob, Jr.',-2.25\n3,'Zoë \"Z\" Ü',\n".encode(),
        ReadOptions(quote="'"),
    ),
    "csv-backslash-escape": Case(
        "people.csv",
        lambda: 'id,name,score\n1,Ann,1.5\n2,"Bob, Jr.",-2.25\n3,"Zoë \\"Z\\" Ü",\n'.encode(),
        ReadOptions(escape="\\"),
    ),
    "csv-latin-1": Case(
        "people.csv", lambda: _csv().decode().encode("latin-1"), ReadOptions(encoding="latin-1")
    ),
    "csv-declared-format": Case("people.dat", _csv, ReadOptions(format=DataFormat.CSV)),
    "ndjson-.json": Case("people.json", _ndjson),
    "ndjson-.ndjson": Case("people.ndjson", _ndjson),
    "ndjson-.jsonl": Case("people.jsonl", _ndjson),
    "ndjson-by-content": Case("people.data", _ndjson),
    "multijson-array": Case("people.multijson", _json_array),
    "multijson-array-by-content": Case("people.data", _json_array),
    "multijson-concatenated": Case("people.multijson", _concatenated_objects),
    "multijson-declared": Case(
        "people.json", _json_array, ReadOptions(format=DataFormat.MULTIJSON)
    ),
    "parquet": Case("people.parquet", _parquet),
    "parquet-by-content": Case("people.data", _parquet),
    "avro": Case("people.avro", _avro),
    "avro-by-content": Case("people.data", _avro),
    "orc": Case("people.orc", _orc),
    "orc-by-content": Case("people.data", _orc),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_format_loads_every_row_exactly(harness: Harness, case: Case) -> None:
    path = harness.write(case.file_name, case.content())

    result = harness.load(PEOPLE, case.mapping, path, options=case.options)

    assert [f.name for f in result.files] == [case.file_name]
    assert count_of(result.counts) == Count(read=3, inserted=3, updated=0, rejected=0, errors=0)
    assert harness.rows(PEOPLE) == PEOPLE_ROWS
    assert harness.quarantine() == []


def _gzip(data: bytes, member: str) -> bytes:
    return gzip.compress(data)


def _zstd(data: bytes, member: str) -> bytes:
    return bytes(zstandard.ZstdCompressor().compress(data))


def _bz2(data: bytes, member: str) -> bytes:
    return bz2.compress(data)


def _zip(data: bytes, member: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    return out.getvalue()


COMPRESSIONS: dict[str, tuple[str, Callable[[bytes, str], bytes]]] = {
    "gzip": (".gz", _gzip),
    "zstd": (".zst", _zstd),
    "bz2": (".bz2", _bz2),
    "zip": (".zip", _zip),
}
COMPRESSED_FORMATS = {
    "csv": Case("people.csv", _csv),
    "ndjson": Case("people.ndjson", _ndjson),
    "parquet": Case("people.parquet", _parquet),
    "avro": Case("people.avro", _avro),
}


@pytest.mark.parametrize("detect", ["by-name", "by-bytes"])
@pytest.mark.parametrize("compression", COMPRESSIONS, ids=str)
@pytest.mark.parametrize("fmt", COMPRESSED_FORMATS, ids=str)
def test_compression_is_detected_from_the_name_or_the_bytes(
    harness: Harness, fmt: str, compression: str, detect: str
) -> None:
    case = COMPRESSED_FORMATS[fmt]
    suffix, compress = COMPRESSIONS[compression]
    data = compress(case.content(), case.file_name)
    if compression == "zip":
        # A zip names its members, so "by bytes" is an archive whose own name says nothing.
        name = "people.zip" if detect == "by-name" else "upload-0001"
        expected_name = f"{name}/{case.file_name}"
    else:
        name = case.file_name + suffix if detect == "by-name" else case.file_name
        expected_name = name
    path = harness.write(name, data)

    result = harness.load(PEOPLE, case.mapping, path)

    assert [f.name for f in result.files] == [expected_name]
    assert count_of(result.counts) == Count(3, 3, 0, 0, 0)
    assert harness.rows(PEOPLE) == PEOPLE_ROWS


def test_declared_format_and_compression_need_no_name(harness: Harness) -> None:
    path = harness.write("blob-0001", gzip.compress(_csv()))

    harness.load(
        PEOPLE,
        PEOPLE_BY_NAME,
        path,
        options=ReadOptions(format=DataFormat.CSV, compression=Compression.GZIP),
    )

    assert harness.rows(PEOPLE) == PEOPLE_ROWS


def test_zip_pattern_selects_members_and_each_member_is_counted(harness: Harness) -> None:
    first, second = csv_text(HEADER, PEOPLE_ROWS[:2]), csv_text(HEADER, PEOPLE_ROWS[2:])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data/", b"")
        archive.writestr("data/part-1.csv", first)
        archive.writestr("data/part-2.csv", second)
        archive.writestr("data/notes.txt", "not data, and not valid CSV for this table\n")
        archive.writestr("other/part-3.csv", "id,name,score\n99,Nobody,0\n")
    path = harness.write("export.zip", out.getvalue())

    result = harness.load(
        PEOPLE, PEOPLE_BY_NAME, path, options=ReadOptions(zip_pattern="data/*.csv")
    )

    assert [(f.name, count_of(f.counts)) for f in result.files] == [
        ("export.zip/data/part-1.csv", Count(2, 2, 0, 0, 0)),
        ("export.zip/data/part-2.csv", Count(1, 1, 0, 0, 0)),
    ]
    assert harness.rows(PEOPLE) == PEOPLE_ROWS


def test_several_inputs_are_counted_per_file(harness: Harness) -> None:
    csv_path = harness.write("a.csv", csv_text(HEADER, PEOPLE_ROWS[:1]))
    json_path = harness.write("b.ndjson.gz", gzip.compress(_ndjson()))

    result = harness.load(PEOPLE, PEOPLE_BY_NAME, csv_path, json_path)

    assert [(f.name, count_of(f.counts)) for f in result.files] == [
        ("a.csv", Count(1, 1, 0, 0, 0)),
        ("b.ndjson.gz", Count(3, 2, 0, 1, 0)),
    ]
    assert harness.rows(PEOPLE) == PEOPLE_ROWS
