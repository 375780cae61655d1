"""Unit specs survive their JSON (what the metadata column and a Celery task carry) unchanged,
rows written before specs had a version still read, and an unknown version or kind is refused
with a message that says what is wrong."""

from __future__ import annotations

import ipaddress
import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef, Transform
from ingestd.domain.sources import (
    Compression,
    DataFormat,
    ErrorPolicy,
    LoadMode,
    OnError,
    ReadOptions,
)
from ingestd.domain.unit_specs import (
    SPEC_VERSION,
    BlobUnitSpec,
    FetchLimits,
    FileUnitSpec,
    SourceDayUnitSpec,
    StreamBatchUnitSpec,
    UnitSpec,
    from_json,
)
from ingestd.errors import InvalidInput

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
texts = st.tuples(names) | st.lists(names, max_size=3).map(tuple)
one_char = st.characters(codec="utf-8", exclude_categories=("Cs",))
days = st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 12, 31))

refs = st.builds(
    SourceRef,
    st.sampled_from(RefKind),
    st.none() | names | st.integers(min_value=0, max_value=10_000),
)
fields = st.builds(
    FieldMapping,
    target=names,
    source=st.none() | refs,
    parts=st.lists(st.tuples(names, refs), max_size=2).map(tuple),
    transform=st.none() | st.sampled_from(Transform),
)
# A mapping without fields is stored like "no mapping" (both mean the table's identity mapping).
mappings = st.none() | st.lists(fields, min_size=1, max_size=4).map(lambda f: Mapping(tuple(f)))
read_options = st.builds(
    ReadOptions,
    format=st.none() | st.sampled_from(DataFormat),
    compression=st.none() | st.sampled_from(Compression),
    header=st.booleans(),
    delimiter=st.none() | one_char,
    quote=one_char,
    escape=st.none() | one_char,
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
    zip_pattern=names,
    skip_first_record=st.booleans(),
)
error_policies = st.builds(ErrorPolicy, st.sampled_from([OnError.CONTINUE, OnError.ABORT])) | (
    st.builds(
        ErrorPolicy,
        st.just(OnError.SKIP_FILE),
        st.none() | st.integers(min_value=0, max_value=10**6),
        st.none() | st.floats(min_value=0, max_value=100),
    )
)
networks = st.sampled_from(["127.0.0.0/8", "10.0.0.0/8", "192.168.1.0/24", "::1/128", "fd00::/8"])
fetch_limits = st.builds(
    FetchLimits,
    max_bytes=st.integers(min_value=1, max_value=1 << 40),
    timeout_seconds=st.floats(min_value=0.001, max_value=3600),
    allowed_networks=st.lists(networks.map(ipaddress.ip_network), max_size=3).map(tuple),
)
file_fields: dict[str, Any] = {
    "table": names,
    "inputs": texts,
    "input_names": texts,
    "mapping": mappings,
    "read_options": read_options,
    "mode": st.sampled_from(LoadMode),
    "error_policy": error_policies,
    "empty_is_error": st.booleans(),
    "tags": texts,
}
specs: st.SearchStrategy[UnitSpec] = st.one_of(
    st.builds(SourceDayUnitSpec, table=names, source=names, day=days),
    st.builds(FileUnitSpec, **file_fields),
    st.builds(
        StreamBatchUnitSpec,
        **file_fields,
        source=names,
        records=st.lists(
            st.tuples(st.integers(0, 1000), st.integers(0, 1000)).map(lambda r: (min(r), max(r))),
            max_size=3,
        ).map(tuple),
    ),
    st.builds(
        BlobUnitSpec,
        table=names,
        url=names,
        sealed_url=names,
        input_name=names,
        mapping=mappings,
        read_options=read_options,
        error_policy=error_policies,
        fetch=fetch_limits,
        tags=texts,
        ingest_if_not_exists=texts,
        delete_after_download=st.booleans(),
        duplicate_of=st.none() | st.integers(min_value=0, max_value=1000),
        raw_size=st.none() | st.integers(min_value=0, max_value=1 << 40),
        upload=st.none() | names,
    ),
)


@given(specs)
def test_every_spec_survives_its_json(spec: UnitSpec) -> None:
    stored = json.loads(json.dumps(spec.to_json()))
    assert stored["version"] == SPEC_VERSION
    assert stored["kind"] == spec.kind.value
    assert from_json(stored) == spec


@given(specs)
def test_the_kind_is_what_tells_specs_apart(spec: UnitSpec) -> None:
    # The row's columns only fill in what a row written before version 1 lacks.
    again = from_json(spec.to_json(), table="other", source_name="other", day=None)
    assert type(again) is type(spec)
    assert again == spec


def test_a_source_day_written_before_versions_reads_from_its_row() -> None:
    spec = from_json({}, table="s.t", source_name="t", day=date(2024, 3, 1))
    assert spec == SourceDayUnitSpec(table="s.t", source="t", day=date(2024, 3, 1))


def test_a_stream_batch_written_before_versions() -> None:
    old = {
        "table": "crm.customers",
        "inputs": ["/data/files/p/streams/s/000000000001-ab.ndjson"],
        "input_names": ["000000000001-ab.ndjson"],
        "mapping": [{"target": "id", "source": {"kind": "column", "value": "id"}}],
        "read_options": {"format": "json", "header": True},
        "mode": "upsert",
        "error_policy": {"on_error": "continue", "max_errors": None, "max_error_percent": None},
        "empty_is_error": False,
        "tags": [],
    }
    spec = from_json(old, table="crm.customers", source_name="signups")
    assert spec == StreamBatchUnitSpec(
        table="crm.customers",
        source="signups",
        inputs=("/data/files/p/streams/s/000000000001-ab.ndjson",),
        input_names=("000000000001-ab.ndjson",),
        mapping=Mapping((FieldMapping("id", SourceRef(RefKind.COLUMN, "id")),)),
        read_options=ReadOptions(format=DataFormat.JSON),
        mode=LoadMode.UPSERT,
    )
    # The same keys on a unit of no source: given files.
    assert type(from_json(old, table="crm.customers")) is FileUnitSpec


def test_a_blob_written_before_versions_keeps_its_limits() -> None:
    old = {
        "table": "db.t",
        "inputs": ["https://acct.blob.core.windows.net/c/a.csv?<redacted>"],
        "input_names": ["a.csv"],
        "url": "https://acct.blob.core.windows.net/c/a.csv?<redacted>",
        "sealed_url": "v1:sealed",
        "mapping": None,
        "read_options": {"format": "csv", "header": True},
        "mode": "append",
        "error_policy": {"on_error": "continue", "max_errors": None, "max_error_percent": None},
        "empty_is_error": True,
        "tags": ["ingest-by:x"],
        "ingest_if_not_exists": ["x"],
        "delete_after_download": False,
        "duplicate_of": None,
        "raw_size": 12,
        "upload": None,
        "fetch": {"max_bytes": 99, "timeout_seconds": 2.5, "allowed_networks": ["10.0.0.0/8"]},
    }
    spec = from_json(old)
    assert isinstance(spec, BlobUnitSpec)
    assert spec.fetch == FetchLimits(99, 2.5, (ipaddress.ip_network("10.0.0.0/8"),))
    assert spec.input_name == "a.csv"
    assert spec.ingest_if_not_exists == ("x",)
    assert (spec.mode, spec.empty_is_error) == (LoadMode.APPEND, True)
    del old["fetch"]
    with pytest.raises(InvalidInput, match="fetch limits are missing"):
        from_json(old)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"version": 2, "kind": "file"}, "unit spec version 2 is not known"),
        ({"version": "1", "kind": "file"}, "unit spec version '1' is not known"),
        ({"version": 1, "kind": "celery"}, "unit spec kind 'celery' is not known"),
        ({"version": 1, "kind": "file", "table": "t"}, "file unit spec is not valid"),
        (
            {"version": 1, "kind": "source_day", "table": "t", "source": "s", "day": "x"},
            "source_day unit spec is not valid",
        ),
        (
            {"kind": "file", "table": "t", "inputs": ["a"], "surprise": 1},
            r"file unit spec has unknown fields \['surprise'\]",
        ),
        ({}, "needs its table, its source and its day"),
        (
            {"kind": "stream_batch", "table": "t", "inputs": ["a"]},
            "the stream's source is missing",
        ),
    ],
    ids=[
        "newer-version",
        "version-as-text",
        "unknown-kind",
        "file-without-inputs",
        "bad-day",
        "unknown-field",
        "empty-without-row",
        "stream-without-source",
    ],
)
def test_a_spec_that_cannot_be_read_says_why(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        from_json(raw)
