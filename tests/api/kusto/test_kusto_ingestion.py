"""Ingestion properties (API-SURFACE §3.3, §3.9) as a Kusto client uses them, with file://
blobs under the data directory and the units run in-process."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from ingestd.control.kusto.retained_blobs import KIND as RETAINED
from ingestd.domain.connections import connection_body
from ingestd.store.schema import StoredPayload
from tests.api.kusto.conftest import Kusto

JSON_MAPPING = [
    {"column": "name", "Properties": {"Path": "$.who"}},
    {"column": "n", "Properties": {"Path": "$.count"}},
]


@pytest.fixture(autouse=True)
def table(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")


def _run(kusto: Kusto, urls: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    response = kusto.queue(urls, properties)
    assert response.status_code == 200, response.text
    operation = response.json()["ingestionOperationId"]
    kusto.drain()
    body: dict[str, Any] = kusto.status(operation).json()
    return body


def _code(response: Any) -> str:
    assert response.status_code >= 400, response.text
    return str(response.json()["error"]["code"])


def test_both_an_inline_mapping_and_a_reference_is_a_duplicate_mapping(kusto: Kusto) -> None:
    response = kusto.queue(
        ["file:///x.json"],
        {
            "format": "json",
            "ingestionMapping": json.dumps(JSON_MAPPING),
            "ingestionMappingReference": "m",
        },
    )
    assert response.status_code == 400
    assert _code(response) == "BadRequest_DuplicateMapping"
    deprecated = kusto.queue(
        ["file:///x.json"], {"jsonMapping": JSON_MAPPING, "ingestionMapping": JSON_MAPPING}
    )
    assert _code(deprecated) == "BadRequest_DuplicateMapping"


@pytest.mark.parametrize("as_string", [True, False], ids=["json-string", "array"])
def test_an_inline_json_mapping(kusto: Kusto, as_string: bool) -> None:
    url = kusto.file_url("rows.json", '{"who": "ann", "count": 2}\n{"who": "bob", "count": 3}\n')
    mapping: Any = json.dumps(JSON_MAPPING) if as_string else JSON_MAPPING
    body = _run(kusto, [url], {"format": "json", "ingestionMapping": mapping})
    assert body["status"]["Succeeded"] == 1
    assert kusto.table_rows() == [("ann", 2), ("bob", 3)]


def test_mapping_references_resolve_by_name_and_kind(kusto: Kusto) -> None:
    kusto.rows(f".create table T ingestion json mapping \"m\" '{json.dumps(JSON_MAPPING)}'")
    missing = kusto.queue(["file:///x.csv"], {"format": "json", "ingestionMappingReference": "x"})
    assert missing.status_code == 404
    assert _code(missing) == "BadRequest_MappingReferenceWasNotFound"
    wrong_kind = kusto.queue(["file:///x.csv"], {"format": "csv", "ingestionMappingReference": "m"})
    assert _code(wrong_kind) == "BadRequest_MappingReferenceWasNotFound"
    url = kusto.file_url("multi.json", '[{"who": "cy", "count": 4}, {"who": "di", "count": 5}]')
    body = _run(kusto, [url], {"format": "multijson", "ingestionMappingReference": "m"})
    assert body["status"]["Succeeded"] == 1
    assert kusto.table_rows() == [("cy", 4), ("di", 5)]


@pytest.mark.parametrize(
    ("name", "content", "properties"),
    [
        ("rows.json", '{"name": "a", "n": 1}\n', {"format": "json"}),
        ("rows.json", '{"name": "a", "n": 1}\n', {}),
        ("rows.avro", b"Obj\x01", {"format": "avro"}),
    ],
    ids=["json", "json-named", "avro"],
)
def test_json_and_avro_without_a_mapping_fail_with_the_missing_mapping_code(
    kusto: Kusto, name: str, content: str | bytes, properties: dict[str, Any]
) -> None:
    body = _run(kusto, [kusto.file_url(name, content)], properties)
    (detail,) = body["details"]
    assert (detail["errorCode"], detail["failureStatus"]) == (
        "BadRequest_MissingMappingFailure",
        "Permanent",
    )
    assert "mapping" in detail["details"]


def test_ingest_if_not_exists_skips_a_repeat_with_no_expiry(kusto: Kusto) -> None:
    first = kusto.file_url("day1.csv", "a,1\nb,2\n")
    tagged = {"format": "csv", "tags": ["ingest-by:2024-03-01", "drop-by:old"]}
    # Two blobs of one operation are one ingestion: they never skip each other.
    second = kusto.file_url("day1b.csv", "c,3\n")
    once = _run(kusto, [first, second], {**tagged, "ingestIfNotExists": ["2024-03-01"]})
    assert once["status"]["Succeeded"] == 2
    repeat = _run(kusto, [first, second], {**tagged, "ingestIfNotExists": '["2024-03-01"]'})
    assert repeat["status"] == {"Succeeded": 2, "Failed": 0, "InProgress": 0, "Canceled": 0}
    assert sorted(kusto.table_rows()) == [("a", 1), ("b", 2), ("c", 3)]
    other_day = _run(
        kusto,
        [kusto.file_url("day2.csv", "d,4\n")],
        {"format": "csv", "tags": ["ingest-by:2024-03-02"], "ingestIfNotExists": ["2024-03-02"]},
    )
    assert other_day["status"]["Succeeded"] == 1
    assert len(kusto.table_rows()) == 4
    tags = kusto.services.warehouse.query(
        "SELECT DISTINCT CAST(tags AS VARCHAR) FROM _ingestd.ledger WHERE read > 0"
    )
    assert sorted(json.loads(t) for (t,) in tags) == [
        ["ingest-by:2024-03-01", "drop-by:old"],
        ["ingest-by:2024-03-02"],
    ]


def test_ignore_first_record_and_creation_time(kusto: Kusto) -> None:
    url = kusto.file_url("with-header.csv", "name,n\nann,1\n")
    body = _run(
        kusto,
        [url],
        {"format": "csv", "ignoreFirstRecord": "true", "creationTime": "2024-02-29T10:00:00Z"},
    )
    assert body["status"]["Succeeded"] == 1
    assert kusto.services.warehouse.query('SELECT name, n, _ingestd_day FROM acme__db."T"') == [
        ("ann", 1, __import__("datetime").date(2024, 2, 29))
    ]


@pytest.mark.parametrize(
    ("name", "content", "properties"),
    [
        ("a.psv", "ann|1\nbob|2\n", {"format": "psv"}),
        ("a.tsv", "ann\t1\nbob\t2\n", {"format": "tsv"}),
        ("a.scsv", "ann;1\nbob;2\n", {"format": "SCSV"}),
        ("a.csv.gz", gzip.compress(b"ann,1\nbob,2\n"), {}),
        ("a.csv", "ann,1\nbob,2\n", {}),
    ],
    ids=["psv", "tsv", "scsv-any-case", "gzip-by-name", "format-from-name"],
)
def test_delimited_formats_map_by_position(
    kusto: Kusto, name: str, content: str | bytes, properties: dict[str, Any]
) -> None:
    body = _run(kusto, [kusto.file_url(name, content)], properties)
    assert body["status"]["Succeeded"] == 1, body
    assert kusto.table_rows() == [("ann", 1), ("bob", 2)]


def test_parquet_maps_by_name(kusto: Kusto) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"n": [1, 2], "name": ["ann", "bob"], "extra": [0.5, 1.5]}), buffer)
    body = _run(kusto, [kusto.file_url("a.parquet", buffer.getvalue())], {"format": "parquet"})
    assert body["status"]["Succeeded"] == 1
    assert kusto.table_rows() == [("ann", 1), ("bob", 2)]


def test_zip_pattern_picks_archive_members(kusto: Kusto) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("keep/a.csv", "ann,1\n")
        archive.writestr("keep/b.csv", "bob,2\n")
        archive.writestr("readme.txt", "not data")
    url = kusto.file_url("bundle.zip", buffer.getvalue())
    body = _run(kusto, [url], {"format": "csv", "zipPattern": "*.csv"})
    assert body["status"]["Succeeded"] == 1
    assert kusto.table_rows() == [("ann", 1), ("bob", 2)]
    nothing = _run(kusto, [url], {"format": "csv", "zipPattern": "*.parquet"})
    assert nothing["details"][0]["errorCode"] == "BadRequest_EmptyArchive"


def test_validation_policy_best_effort_keeps_good_rows_and_fail_loads_nothing(
    kusto: Kusto,
) -> None:
    url = kusto.file_url("mixed.csv", "ann,1\nbob,many\ncy,3\n")
    best = _run(kusto, [url], {"format": "csv"})
    assert best["status"]["Succeeded"] == 1
    assert kusto.table_rows() == [("ann", 1), ("cy", 3)]
    strict = _run(
        kusto, [url], {"format": "csv", "validationPolicy": {"ValidationImplications": 0}}
    )
    (detail,) = strict["details"]
    assert (detail["status"], detail["errorCode"]) == (
        "Failed",
        "BadRequest_NoRecordsOrWrongFormat",
    )
    assert "line 2" in detail["details"] or "record 2" in detail["details"]
    assert kusto.table_rows() == [("ann", 1), ("cy", 3)]  # the strict blob loaded nothing


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        ({"validationPolicy": "not json"}, "BadRequest_MalformedIngestionProperty"),
        (
            {"ingestionMapping": '[{"column": "nope", "Properties": {"Path": "$.a"}}]'},
            "BadRequest_InconsistentMapping",
        ),
        (
            {"format": "csv", "ingestionMappingType": "json", "ingestionMapping": "[{}]"},
            "BadRequest_InvalidMappingReference",
        ),
    ],
)
def test_malformed_properties_are_refused_over_http(
    kusto: Kusto, properties: dict[str, Any], code: str
) -> None:
    """Over HTTP; the parser's other refusals are in test_kusto_properties."""
    assert _code(kusto.queue(["file:///x.csv"], properties)) == code


def _retained(kusto: Kusto) -> list[str]:
    """The units whose deleteAfterDownload blob has a retained copy."""
    with kusto.services.store.read() as session:
        return list(
            session.scalars(select(StoredPayload.name).where(StoredPayload.kind == RETAINED))
        )


def test_delete_after_download_only_where_a_connection_allows_it(kusto: Kusto) -> None:
    url = kusto.file_url("drop/me.csv", "ann,1\n")
    refused = kusto.queue([url], {"format": "csv", "deleteAfterDownload": True})
    assert _code(refused) == "BadRequest_IngestionPropertyNotSupportedInThisContext"
    in_command = kusto.mgmt(
        f".ingest-from-storage-queued into table T with (deleteAfterDownload=true) <| '{url}'"
    )
    assert _code(in_command) == "BadRequest_IngestionPropertyNotSupportedInThisContext"
    kusto.services.catalog.create_connection(
        kusto.project(),
        "drops",
        connection_body("file", {"root": str(kusto.files / "drop"), "allow_delete": True}),
    )
    body = _run(kusto, [url], {"format": "csv", "deleteAfterDownload": True})
    assert body["status"]["Succeeded"] == 1
    assert kusto.table_rows() == [("ann", 1)]
    assert not (kusto.files / "drop" / "me.csv").exists()
    # The downloaded copy is kept for retries (in the metadata database, so that a retry on
    # another worker finds it) until the unit has ended, then swept.
    (first,) = _retained(kusto)
    again = kusto.file_url("drop/me-too.csv", "bob,2\n")
    _run(kusto, [again], {"format": "csv", "deleteAfterDownload": True})
    (second,) = _retained(kusto)
    assert second != first
    kusto.services.kusto_queues.sweep()  # the scheduler's sweep: the unit has ended
    assert _retained(kusto) == []
    assert kusto.table_rows() == [("ann", 1), ("bob", 2)]


def test_sas_signatures_never_show_in_status_or_commands(kusto: Kusto) -> None:
    url = "https://acct.blob.core.windows.net/c/a.csv?sv=2022-11-02&sig=SECRET%2Bsig&se=2030"
    op = kusto.queue([url], {"format": "csv"}).json()["ingestionOperationId"]
    status = kusto.status(op).json()
    assert status["details"][0]["url"] == (
        "https://acct.blob.core.windows.net/c/a.csv?sv=2022-11-02&sig=****&se=2030"
    )
    details = kusto.rows(f'.show queued ingestion operations "{op}" details')
    assert "SECRET" not in json.dumps(details) and "SECRET" not in json.dumps(status)
