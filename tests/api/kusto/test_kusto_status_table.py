"""The status table of ``.get ingestion resources`` (ReportMethod Table / QueueAndTable): the
Azure Table requests the SDKs make, built from the Table REST docs (Insert, Get, Query,
Update, Merge Entity), per project under its SAS; and ingestd's update of the entity a queued
blob's message names when the blob's unit ends."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest

from ingestd.control.access import KeyKind
from tests.api.kusto.conftest import Kusto

SOURCE = "3f0c1b6e-0000-4000-8000-000000000001"


def resources(kusto: Kusto, key: str | None = None) -> dict[str, str]:
    return {
        r["ResourceTypeName"]: r["StorageRoot"]
        for r in kusto.rows(".get ingestion resources", key=key)
    }


def split(url: str) -> tuple[str, str]:
    """(path, SAS query) of a StorageRoot."""
    base, _, sas = url.partition("?")
    return "/" + base.split("/", 3)[3], sas


@pytest.fixture
def table(kusto: Kusto) -> tuple[str, str]:
    return split(resources(kusto)["IngestionsStatusTable"])


def entity_path(path: str, pk: str, rk: str) -> str:
    return f"{path}(PartitionKey='{quote(pk)}',RowKey='{quote(rk)}')"


def insert(kusto: Kusto, path: str, sas: str, **props: Any) -> Any:
    body = {"PartitionKey": SOURCE, "RowKey": SOURCE, "Status": "Pending", **props}
    return kusto.client.post(
        f"{path}?{sas}",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )


def query(kusto: Kusto, path: str, sas: str, **params: str) -> Any:
    """GET with the SAS and other query parameters (httpx's ``params`` would drop the SAS)."""
    extra = "".join(f"&{k}={quote(v)}" for k, v in params.items())
    return kusto.client.get(f"{path}?{sas}{extra}")


def get(kusto: Kusto, path: str, sas: str, pk: str = SOURCE, rk: str = SOURCE) -> Any:
    return kusto.client.get(f"{entity_path(path, pk, rk)}?{sas}")


def test_insert_get_and_query(kusto: Kusto, table: tuple[str, str]) -> None:
    path, sas = table
    created = insert(kusto, path, sas, Database="db")
    assert created.status_code == 201, created.text
    assert created.headers["ETag"].startswith('W/"')
    got = get(kusto, path, sas)
    assert got.status_code == 200
    entity = got.json()
    assert (entity["PartitionKey"], entity["Status"], entity["Database"]) == (
        SOURCE,
        "Pending",
        "db",
    )
    assert entity["odata.etag"] == got.headers["ETag"]
    wanted = f"PartitionKey eq '{SOURCE}' and RowKey eq '{SOURCE}'"
    found = query(kusto, f"{path}()", sas, **{"$filter": wanted})
    assert found.status_code == 200
    assert [e["RowKey"] for e in found.json()["value"]] == [SOURCE]
    none = query(kusto, f"{path}()", sas, **{"$filter": "PartitionKey eq 'other'"})
    assert none.json()["value"] == []


def test_insert_twice_is_a_conflict_in_table_json(kusto: Kusto, table: tuple[str, str]) -> None:
    path, sas = table
    assert insert(kusto, path, sas).status_code == 201
    again = insert(kusto, path, sas)
    assert again.status_code == 409
    assert again.json()["odata.error"]["code"] == "EntityAlreadyExists"
    assert again.headers["x-ms-error-code"] == "EntityAlreadyExists"


def test_merge_and_replace_under_the_etag(kusto: Kusto, table: tuple[str, str]) -> None:
    path, sas = table
    etag = insert(kusto, path, sas, Extra="kept").headers["ETag"]
    target = f"{entity_path(path, SOURCE, SOURCE)}?{sas}"
    stale = kusto.client.request(
        "MERGE", target, content=json.dumps({"Status": "x"}), headers={"If-Match": 'W/"old"'}
    )
    assert stale.status_code == 412
    assert stale.json()["odata.error"]["code"] == "UpdateConditionNotSatisfied"
    merged = kusto.client.request(
        "MERGE", target, content=json.dumps({"Status": "Queued"}), headers={"If-Match": etag}
    )
    assert merged.status_code == 204
    assert get(kusto, path, sas).json()["Extra"] == "kept"
    replaced = kusto.client.put(
        target, content=json.dumps({"Status": "Pending"}), headers={"If-Match": "*"}
    )
    assert replaced.status_code == 204
    entity = get(kusto, path, sas).json()
    assert entity["Status"] == "Pending" and "Extra" not in entity
    patched = kusto.client.patch(target, content=json.dumps({"Details": "d"}))
    assert patched.status_code == 204
    assert get(kusto, path, sas).json()["Details"] == "d"


def test_unknown_entity_and_unsupported_filter(kusto: Kusto, table: tuple[str, str]) -> None:
    path, sas = table
    missing = get(kusto, path, sas, "nope", "nope")
    assert missing.status_code == 404
    assert missing.json()["odata.error"]["code"] == "ResourceNotFound"
    odd = query(kusto, f"{path}()", sas, **{"$filter": "Status eq 'Pending'"})
    assert odd.status_code == 400
    assert "PartitionKey and RowKey" in odd.json()["odata.error"]["message"]["value"]


def test_no_sas_and_a_widened_sas_are_refused(kusto: Kusto, table: tuple[str, str]) -> None:
    path, sas = table
    assert kusto.client.get(entity_path(path, SOURCE, SOURCE)).status_code == 401
    widened = sas.replace("sp=rau", "sp=raud")
    assert widened != sas
    deleting = kusto.client.delete(
        f"{entity_path(path, SOURCE, SOURCE)}?{widened}", headers={"If-Match": "*"}
    )
    assert deleting.status_code == 403
    # The SAS the SDK gets does not allow deleting.
    assert (
        kusto.client.delete(
            f"{entity_path(path, SOURCE, SOURCE)}?{sas}", headers={"If-Match": "*"}
        ).status_code
        == 403
    )


def test_another_projects_table_is_never_reached(kusto: Kusto, table: tuple[str, str]) -> None:
    path, sas = table
    assert insert(kusto, path, sas, Secret="acme's").status_code == 201
    other = kusto.services.access.create_key("globex", KeyKind.CONSOLE)
    their_path, their_sas = split(resources(kusto, other)["IngestionsStatusTable"])
    # globex's SAS on acme's table, and acme's SAS on globex's: refused.
    assert get(kusto, path, their_sas).status_code == 403
    assert insert(kusto, path, their_sas).status_code == 403
    assert get(kusto, their_path, sas).status_code == 403
    # globex's own table is another table: acme's entity is not in it.
    assert get(kusto, their_path, their_sas).status_code == 404
    listed = kusto.client.get(f"{their_path}()?{their_sas}").json()["value"]
    assert listed == []


# -- ingestd updates the entity a message names ------------------------------------------------


def _post_message(kusto: Kusto, queue_url: str, body: dict[str, Any]) -> Any:
    path, sas = split(queue_url)
    text = base64.b64encode(json.dumps(body).encode()).decode()
    return kusto.client.post(
        f"{path}/messages?{sas}",
        content=f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>",
    )


def _message(kusto: Kusto, res: dict[str, str], table_name: str, method: int) -> dict[str, Any]:
    base, _, sas = res["TempStorage"].partition("?")
    path = split(f"{base}/db__T__x__rows.csv?{sas}")
    upload = kusto.client.put(
        f"{path[0]}?{path[1]}", content=b"a,1\nb,2\n", headers={"x-ms-blob-type": "BlockBlob"}
    )
    assert upload.status_code == 201, upload.text
    token = kusto.rows(".get kusto identity token")[0]["AuthorizationContext"]
    return {
        "BlobPath": f"{base}/db__T__x__rows.csv?{sas}",
        "DatabaseName": "db",
        "TableName": table_name,
        "Id": SOURCE,
        "ReportLevel": 2,
        "ReportMethod": method,
        "AdditionalProperties": {"authorizationContext": token, "format": "csv"},
        "IngestionStatusInTable": {
            "TableConnectionString": res["IngestionsStatusTable"],
            "PartitionKey": SOURCE,
            "RowKey": SOURCE,
        },
    }


def _notifications(kusto: Kusto, res: dict[str, str]) -> int:
    total = 0
    for name in ("SuccessfulIngestionsQueue", "FailedIngestionsQueue"):
        path, sas = split(res[name])
        listed = query(kusto, f"{path}/messages", sas, peekonly="true", numofmessages="32")
        total += listed.text.count("<QueueMessage>")
    return total


def test_the_unit_outcome_is_merged_into_the_entity(kusto: Kusto) -> None:
    assert kusto.mgmt(".create table T (name:string, n:long)").status_code == 200
    res = resources(kusto)
    path, sas = split(res["IngestionsStatusTable"])
    assert insert(kusto, path, sas, Database="db", Table="T").status_code == 201
    posted = _post_message(
        kusto, res["SecuredReadyForAggregationQueue"], _message(kusto, res, "T", 1)
    )
    assert posted.status_code == 201, posted.text
    assert get(kusto, path, sas).json()["Status"] == "Pending"
    kusto.drain()
    kusto.services.kusto_queues.publish()
    entity = get(kusto, path, sas).json()
    assert entity["Status"] == "Succeeded"
    assert entity["OperationId"] and entity["UpdatedOn@odata.type"] == "Edm.DateTime"
    assert entity["Table"] == "T"  # the client's own properties are kept (a merge)
    assert kusto.table_rows() == [("a", 1), ("b", 2)]
    assert _notifications(kusto, res) == 0  # ReportMethod Table: no queue notification


def test_a_refused_message_fails_the_entity_at_once(kusto: Kusto) -> None:
    assert kusto.mgmt(".create table T (name:string, n:long)").status_code == 200
    res = resources(kusto)
    path, sas = split(res["IngestionsStatusTable"])
    assert insert(kusto, path, sas).status_code == 201
    message = _message(kusto, res, "NoSuchTable", 2)  # QueueAndTable
    assert _post_message(kusto, res["SecuredReadyForAggregationQueue"], message).status_code == 201
    entity = get(kusto, path, sas).json()
    assert (entity["Status"], entity["FailureStatus"]) == ("Failed", "Permanent")
    assert entity["ErrorCode"] == "BadRequest_TableNotExist"
    assert _notifications(kusto, res) == 1  # and the failure queue too


def test_a_message_naming_another_projects_table_is_refused(kusto: Kusto) -> None:
    assert kusto.mgmt(".create table T (name:string, n:long)").status_code == 200
    res = resources(kusto)
    other = kusto.services.access.create_key("globex", KeyKind.CONSOLE)
    theirs = resources(kusto, other)["IngestionsStatusTable"]
    message = _message(kusto, res, "T", 1)
    message["IngestionStatusInTable"]["TableConnectionString"] = theirs
    posted = _post_message(kusto, res["SecuredReadyForAggregationQueue"], message)
    assert posted.status_code == 403
    their_path, their_sas = split(theirs)
    assert kusto.client.get(f"{their_path}()?{their_sas}").json()["value"] == []
