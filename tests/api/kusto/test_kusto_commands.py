"""Management commands over POST /v1/rest/mgmt (API-SURFACE §3.2, §3.6): results as v1
tables, and a precise syntax error (never a 500) for anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingestd.control.access import KeyKind
from tests.api.kusto.conftest import Kusto

CSV_MAPPING = (
    '\'[{"column":"name","Properties":{"Ordinal":"1"}},{"column":"n","Properties":{"Ordinal":0}}]\''
)


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code >= 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _csl(schema: str, *, csl: bool = False) -> str:
    """A JSON schema cell (``.create table``) as ``name:type,...``, to compare columns."""
    if csl:
        return schema
    columns = json.loads(schema)["OrderedColumns"]
    return ",".join(f"{c['Name']}:{c['CslType']}" for c in columns)


def test_v1_tables_have_the_vendor_shape(kusto: Kusto) -> None:
    response = kusto.mgmt(".create table T (name:string, n:long)")
    assert response.json() == {
        "Tables": [
            {
                "TableName": "Table_0",
                "Columns": [
                    {"ColumnName": "TableName", "DataType": "String", "ColumnType": "string"},
                    {"ColumnName": "Schema", "DataType": "String", "ColumnType": "string"},
                    {"ColumnName": "DatabaseName", "DataType": "String", "ColumnType": "string"},
                    {"ColumnName": "Folder", "DataType": "String", "ColumnType": "string"},
                    {"ColumnName": "DocString", "DataType": "String", "ColumnType": "string"},
                ],
                "Rows": [
                    [
                        "T",
                        '{"Name":"T","OrderedColumns":['
                        '{"Name":"name","Type":"System.String","CslType":"string"},'
                        '{"Name":"n","Type":"System.Int64","CslType":"long"}]}',
                        "db",
                        "",
                        "",
                    ]
                ],
            }
        ]
    }


def test_create_table_is_idempotent_and_create_merge_adds_columns(kusto: Kusto) -> None:
    kusto.rows(
        ".create table T (name:string, n:long, at:datetime, bag:dynamic, ok:bool, x:real, "
        "id:guid, small:int) with (docstring='people', folder='in')"
    )
    again = kusto.rows(
        ".create table T (name:string, n:long, at:datetime, bag:dynamic, ok:bool, x:real, "
        "id:guid, small:int)"
    )
    assert _csl(again[0]["Schema"]) == (
        "name:string,n:long,at:datetime,bag:dynamic,ok:bool,x:real,id:string,small:long"
    )
    # The vendor answers success for an existing table whatever columns the command names,
    # and leaves the table as it is (idempotent provisioning scripts rely on it).
    different = kusto.rows(".create table T (name:string, other:long)")
    assert _csl(different[0]["Schema"]) == _csl(again[0]["Schema"])
    assert _csl(kusto.rows(".show table T cslschema")[0]["Schema"], csl=True) == _csl(
        again[0]["Schema"]
    )
    merged = kusto.rows(".create-merge table T (name:string, extra:string)")
    assert _csl(merged[0]["Schema"]).endswith(",extra:string")
    retyped = kusto.mgmt(".create-merge table T (name:long)")
    assert _error(retyped)["code"] == "General_BadRequest"
    assert "string" in _error(retyped)["message"]


def test_show_tables_and_schemas(kusto: Kusto) -> None:
    kusto.rows(".create table B (a:string)")
    kusto.rows(".create table A (a:string, b:long)")
    kusto.rows(".create table Other (a:string)", db="otherdb")
    assert [r["TableName"] for r in kusto.rows(".show tables")] == ["A", "B"]
    csl = kusto.rows(".show table A cslschema")
    assert csl == [
        {
            "TableName": "A",
            "Schema": "a:string,b:long",
            "DatabaseName": "db",
            "Folder": "",
            "DocString": "",
        }
    ]
    for command in (".show table A schema as json", ".show table A schema"):
        schema = json.loads(kusto.rows(command)[0]["Schema"])
        assert schema == {
            "Name": "A",
            "OrderedColumns": [
                {"Name": "a", "Type": "System.String", "CslType": "string"},
                {"Name": "b", "Type": "System.Int64", "CslType": "long"},
            ],
        }
    explicit = kusto.rows(".show table database('otherdb').Other cslschema", db=None)
    assert explicit[0]["DatabaseName"] == "otherdb"
    missing = kusto.mgmt(".show table Nope schema as json")
    assert missing.status_code == 404 and _error(missing)["code"] == "BadRequest_TableNotExist"


def test_mappings_are_created_replaced_and_listed(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")
    created = kusto.rows(f'.create table T ingestion csv mapping "m1" {CSV_MAPPING}')
    assert (created[0]["Name"], created[0]["Kind"], created[0]["Table"]) == ("m1", "csv", "T")
    assert json.loads(created[0]["Mapping"])[0] == {
        "Column": "name",
        "Properties": {"Ordinal": "1"},
    }
    # The vendor's multi-line form: adjacent string literals concatenate.
    kusto.rows(
        '.create table T ingestion json mapping "j1"\n'
        "'['\n"
        '\'{"column":"name","Properties":{"Path":"$.who"}},\'\n'
        '\'{"column":"n","Properties":{"Path":"$.[\\\'n n\\\']"}}\'\n'
        "']'"
    )
    duplicate = kusto.mgmt(f'.create table T ingestion csv mapping "m1" {CSV_MAPPING}')
    assert _error(duplicate)["code"] == "General_BadRequest"
    replaced = kusto.rows(
        '.create-or-alter table T ingestion csv mapping "m1" '
        '\'[{"column":"name","Properties":{"Ordinal":"0"}}]\''
    )
    assert json.loads(replaced[0]["Mapping"]) == [
        {"Column": "name", "Properties": {"Ordinal": "0"}}
    ]
    listed = kusto.rows(".show table T ingestion mappings")
    assert [(m["Name"], m["Kind"]) for m in listed] == [("m1", "csv"), ("j1", "json")]
    assert [m["Name"] for m in kusto.rows(".show table T ingestion json mappings")] == ["j1"]


@pytest.mark.parametrize(
    ("mapping", "code"),
    [
        ("'not json'", "BadRequest_InvalidMapping"),
        ("'[]'", "BadRequest_InvalidMapping"),
        ('\'[{"Properties":{"Ordinal":"0"}}]\'', "BadRequest_InvalidMapping"),
        ('\'[{"column":"name","Properties":{"Ordinal":"-1"}}]\'', "BadRequest_InvalidMapping"),
        ('\'[{"column":"nope","Properties":{"Ordinal":"0"}}]\'', "BadRequest_InconsistentMapping"),
    ],
    ids=["not-json", "empty", "no-column", "negative-ordinal", "unknown-column"],
)
def test_bad_mappings_are_refused(kusto: Kusto, mapping: str, code: str) -> None:
    kusto.rows(".create table T (name:string, n:long)")
    response = kusto.mgmt(f'.create table T ingestion csv mapping "bad" {mapping}')
    assert response.status_code == 400
    assert _error(response)["code"] == code
    assert kusto.rows(".show table T ingestion mappings") == []


def test_ingest_from_storage_queued_show_and_cancel(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")
    kusto.rows(f'.create table T ingestion csv mapping "m" {CSV_MAPPING}')
    first = kusto.file_url("one.csv", "1,a\n2,b\n")
    second = kusto.file_url("two.csv", "3,c\n")
    (result,) = kusto.rows(
        ".ingest-from-storage-queued into table database('db').T EnableTracking=true "
        "SkipBatching=false CompressionFactor=1.5 "
        "with (format='csv', ingestionMappingReference='m', tags='[\"drop-by:x\"]') "
        f"<| '{first}' h'{second}'"
    )
    assert set(result) == {"IngestionOperationId", "ClientRequestId", "OperationInfo"}
    operation = result["IngestionOperationId"]
    assert result["OperationInfo"] == f'.show queued ingestion operations "{operation}"'

    (pending,) = kusto.rows(f'.show queued ingestion operations "{operation}"')
    assert pending["State"] == "InProgress"
    assert (pending["Discovered"], pending["Pending"], pending["Ingested"]) == (2, 2, 0)
    kusto.drain()
    (done,) = kusto.rows(f"  .show queued ingestion operations ('{operation}')  ")
    assert done == {
        "IngestionOperationId": operation,
        "StartedOn": done["StartedOn"],
        "LastUpdatedOn": done["LastUpdatedOn"],
        "State": "Completed",
        "Discovered": 2,
        "Pending": 0,
        "Canceled": 0,
        "Ingested": 2,
        "Failed": 0,
        "SampleFailedReasons": "",
        "Database": "db",
        "Table": "T",
    }
    assert done["StartedOn"].endswith("Z") and len(done["StartedOn"]) == 28
    details = kusto.rows(f'.show queued ingestion operations "{operation}" details')
    assert [(d["BlobURL"], d["IngestionStatus"], d["FailedReasons"]) for d in details] == [
        (first, "Succeeded", ""),
        (second, "Succeeded", ""),
    ]
    assert sorted(kusto.table_rows()) == [("a", 1), ("b", 2), ("c", 3)]
    ended = kusto.mgmt(f".cancel queued ingestion operation '{operation}'")
    assert _error(ended)["code"] == "General_BadRequest"


def test_show_several_operations_at_once(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")
    ids = []
    for i in range(2):
        url = kusto.file_url(f"f{i}.csv", f"x{i},{i}\n")
        ids.append(kusto.queue([url], {"format": "csv"}).json()["ingestionOperationId"])
    shown = kusto.rows(f'.show queued ingestion operations ("{ids[0]}", "{ids[1]}")')
    assert [r["IngestionOperationId"] for r in shown] == ids
    cancelled = kusto.rows(f".cancel queued ingestion operation '{ids[1]}'")
    assert (cancelled[0]["State"], cancelled[0]["Canceled"], cancelled[0]["Pending"]) == (
        "Canceled",
        1,
        0,
    )
    rest = kusto.status(ids[1]).json()
    assert rest["status"] == {"Succeeded": 0, "Failed": 0, "InProgress": 0, "Canceled": 1}


def test_list_blobs_sources_are_refused_precisely(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")
    response = kusto.mgmt(
        ".ingest-from-storage-queued into table T <| .list blobs ('https://a.blob.core.windows.net/c')"
    )
    error = _error(response)
    assert error["code"] == "BadRequest_SyntaxError"
    assert ".list blobs" in error["message"] and "[line:position=1:45]" in error["message"]


@pytest.mark.parametrize(
    ("csl", "where", "says"),
    [
        (".show tabels", "1:7", "expected 'table' or 'tables' or 'queued' but found 'tabels'"),
        (".drop table T", "1:1", "unknown or unsupported command '.drop'"),
        (".show tables\n  | where x", "2:3", "unexpected character '|'"),
    ],
)
def test_malformed_commands_get_a_syntax_error_with_its_position(
    kusto: Kusto, csl: str, where: str, says: str
) -> None:
    """Over HTTP; every other case is in test_kusto_command_parser."""
    response = kusto.mgmt(csl)
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "BadRequest_SyntaxError"
    assert error["@type"] == "Kusto.Data.Exceptions.SyntaxException"
    assert f"[line:position={where}]" in error["message"], error["message"]
    assert says in error["message"]


@pytest.mark.parametrize(
    ("csl", "code"),
    [
        (".create table T (a:timespan)", "BadRequest_NotSupported"),
        (".create table T (a:wat)", "General_BadRequest"),
        (".create table T (['a b']:string)", "BadRequest_EntityNameIsNotValid"),
        (".create table ['my table'] (a:string)", "BadRequest_InvalidOrEmptyTableName"),
        (".create table T (a:string, a:long)", "BadRequest_EntityNameIsNotValid"),
    ],
)
def test_commands_that_parse_but_cannot_be_served(kusto: Kusto, csl: str, code: str) -> None:
    assert _error(kusto.mgmt(csl))["code"] == code


def test_a_command_needs_a_database(kusto: Kusto) -> None:
    response = kusto.mgmt(".show tables", db=None)
    assert _error(response)["code"] == "BadRequest_EmptyDatabaseName"


def test_show_ingestion_failures_lists_the_projects_failed_blobs(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")
    good = kusto.file_url("good.csv", "a,1\n")
    missing = (kusto.files / "missing.csv").as_uri()
    queued = kusto.queue([good, missing], {"format": "csv"})
    assert queued.status_code == 200, queued.text
    kusto.drain()
    failures = kusto.rows(".show ingestion failures")
    assert len(failures) == 1
    failure = failures[0]
    assert failure["OperationId"] == queued.json()["ingestionOperationId"]
    assert (failure["Database"], failure["Table"]) == ("db", "T")
    assert failure["IngestionSourcePath"] == missing
    assert failure["ErrorCode"] == "Download_SourceNotFound"
    assert failure["FailureKind"] == "Permanent" and failure["ShouldRetry"] is False
    assert failure["FailedOn"].endswith("Z")
    # Another project sees none of them; a read key may list its own.
    other = kusto.services.access.create_key("globex", KeyKind.CONSOLE)
    assert kusto.rows(".show ingestion failures", key=other) == []
    reader = kusto.services.access.create_key("acme", KeyKind.READ)
    assert len(kusto.rows(".show ingestion failures", key=reader)) == 1
