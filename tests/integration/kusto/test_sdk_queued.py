"""Microsoft's own ``QueuedIngestClient`` (azure-kusto-ingest) against a served ingestd, with
no change to the SDK: it asks ``.get ingestion resources`` and ``.get kusto identity token``,
uploads to the project's temporary container, posts its message to the ready-for-aggregation
queue, and reads the notifications with ``KustoIngestStatusQueues``, all served by ingestd.
The rows in the destination are the rows given."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.kusto.data import KustoConnectionStringBuilder
from azure.kusto.data.data_format import DataFormat
from azure.kusto.ingest import (
    BlobDescriptor,
    IngestionMappingKind,
    IngestionProperties,
    QueuedIngestClient,
    ReportLevel,
    StreamDescriptor,
)
from azure.kusto.ingest.status import FailureMessage, KustoIngestStatusQueues, SuccessMessage
from azure.storage.blob import BlobClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy
from sqlalchemy import select

from ingestd.control.access import KeyKind
from ingestd.store.schema import StoredPayload
from tests.integration.kusto.sdk_server import SdkServer, sdk_server
from tests.integration.kusto.servers import HttpServer

POLL_LIMIT_SECONDS = 60.0
"""A safety net against a hang, not a measurement."""
ROWS = [("a", 1), ("b", 2), ("c", 3)]
CSV = "".join(f"{name},{n}\n" for name, n in ROWS)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SdkServer]:
    with sdk_server(
        tmp_path / "data",
        fetch_allowed_networks="127.0.0.0/8",
        retry_base_seconds=0.01,
        retry_max_attempts=2,
        scheduler_interval_seconds=0.1,
    ) as running:
        yield running


def _mgmt(server: SdkServer, key: str, csl: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{server.url}/v1/rest/mgmt",
        json={"db": "db", "csl": csl},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    table = response.json()["Tables"][0]
    names = [c["ColumnName"] for c in table["Columns"]]
    return [dict(zip(names, row, strict=True)) for row in table["Rows"]]


def _client(server: SdkServer, key: str) -> QueuedIngestClient:
    kcsb = KustoConnectionStringBuilder.with_aad_application_token_authentication(server.url, key)
    return QueuedIngestClient(kcsb)


def _properties(**extra: Any) -> IngestionProperties:
    return IngestionProperties(
        database="db",
        table="T",
        data_format=extra.pop("data_format", DataFormat.CSV),
        report_level=extra.pop("report_level", ReportLevel.FailuresAndSuccesses),
        **extra,
    )


def _pop(queues: KustoIngestStatusQueues) -> SuccessMessage | FailureMessage:
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    while True:
        for queue in (queues.success, queues.failure):
            found = queue.pop()
            if found:
                assert len(found) == 1
                message: SuccessMessage | FailureMessage = found[0]
                return message
        assert time.monotonic() < deadline, "no notification arrived"
        time.sleep(0.05)


def _rows(server: SdkServer) -> list[tuple[Any, ...]]:
    return server.services.warehouse.query('SELECT name, n FROM "acme__db"."T" ORDER BY name')


@pytest.fixture
def acme(server: SdkServer) -> Iterator[tuple[str, QueuedIngestClient]]:
    key = server.key("acme")
    _mgmt(server, key, ".create table T (name:string, n:long)")
    client = _client(server, key)
    yield key, client
    client.close()


def test_resources_name_ingestd_storage_of_the_project(server: SdkServer) -> None:
    key = server.key("acme")
    rows = _mgmt(server, key, ".get ingestion resources")
    kinds = {r["ResourceTypeName"]: r["StorageRoot"] for r in rows}
    assert set(kinds) == {
        "SecuredReadyForAggregationQueue",
        "FailedIngestionsQueue",
        "SuccessfulIngestionsQueue",
        "TempStorage",
        "IngestionsStatusTable",
    }
    assert kinds["TempStorage"].startswith(f"{server.url}/_storage/blob/acme/ingestd-tempstorage?")
    assert "sig=" in kinds["SecuredReadyForAggregationQueue"]
    token = _mgmt(server, key, ".get kusto identity token")
    assert len(token) == 1 and token[0]["AuthorizationContext"]
    read_only = server.key("acme", kind=KeyKind.READ)
    response = httpx.post(
        f"{server.url}/v1/rest/mgmt",
        json={"db": "db", "csl": ".get ingestion resources"},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert response.status_code == 403, response.text


def test_ingest_from_file_loads_the_rows_and_reports_success(
    server: SdkServer, acme: tuple[str, QueuedIngestClient], tmp_path: Path
) -> None:
    key, client = acme
    path = tmp_path / "rows.csv"
    path.write_text(CSV)
    result = client.ingest_from_file(str(path), _properties())
    message = _pop(KustoIngestStatusQueues(client))
    assert isinstance(message, SuccessMessage), message
    assert (message.Database, message.Table) == ("db", "T")
    assert message.IngestionSourceId == str(result.source_id)
    assert "sig=" not in (message.IngestionSourcePath or "")
    assert _rows(server) == ROWS
    # The operation is one like any other: the REST status endpoint shows it.
    status = httpx.get(
        f"{server.url}/v1/rest/ingestion/queued/db/T/{message.OperationId}",
        params={"details": "true"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert status.status_code == 200, status.text
    assert status.json()["status"]["Succeeded"] == 1
    # ... and the upload is gone once its ingestion succeeded (docs/kusto-sdk.md).
    with server.services.store.read() as session:
        kept = session.scalars(select(StoredPayload.name)).all()
    assert [name for name in kept if name.endswith(".gz")] == []


def test_ingest_from_stream_with_a_header_row(
    server: SdkServer, acme: tuple[str, QueuedIngestClient]
) -> None:
    _, client = acme
    stream = io.BytesIO(("name,n\n" + CSV).encode())
    client.ingest_from_stream(
        StreamDescriptor(stream, stream_name="rows.csv"), _properties(ignore_first_record=True)
    )
    message = _pop(KustoIngestStatusQueues(client))
    assert isinstance(message, SuccessMessage), message
    assert _rows(server) == ROWS


@pytest.mark.parametrize("as_json", [False, True], ids=["csv", "json-with-mapping"])
def test_ingest_from_dataframe(
    server: SdkServer, acme: tuple[str, QueuedIngestClient], as_json: bool
) -> None:
    """CSV frames map by position; JSON frames (the SDK's default) need a JSON mapping on the
    queued path, as the service's (API-SURFACE §3.9)."""
    pandas = pytest.importorskip("pandas")
    key, client = acme
    frame = pandas.DataFrame({"name": [r[0] for r in ROWS], "n": [r[1] for r in ROWS]})
    if as_json:
        _mgmt(
            server,
            key,
            '.create table T ingestion json mapping "frame" '
            """'[{"column":"name","Properties":{"Path":"$.name"}},'"""
            """'{"column":"n","Properties":{"Path":"$.n"}}]'""",
        )
        props = _properties(
            data_format=DataFormat.JSON,
            ingestion_mapping_reference="frame",
            ingestion_mapping_kind=IngestionMappingKind.JSON,
        )
        client.ingest_from_dataframe(frame, props, data_format=DataFormat.JSON)
    else:
        client.ingest_from_dataframe(frame, _properties(), data_format=DataFormat.CSV)
    message = _pop(KustoIngestStatusQueues(client))
    assert isinstance(message, SuccessMessage), message
    assert _rows(server) == ROWS


def test_ingest_from_blob_on_another_store(
    server: SdkServer, acme: tuple[str, QueuedIngestClient], http_blobs: HttpServer
) -> None:
    _, client = acme
    url = http_blobs.put("sdk/rows.csv", CSV)
    client.ingest_from_blob(BlobDescriptor(url, len(CSV)), _properties())
    message = _pop(KustoIngestStatusQueues(client))
    assert isinstance(message, SuccessMessage), message
    assert message.IngestionSourcePath == url
    assert _rows(server) == ROWS


def test_a_bad_file_gives_a_failure_with_the_catalogue_code(
    server: SdkServer, acme: tuple[str, QueuedIngestClient]
) -> None:
    _, client = acme
    broken = io.BytesIO(b"\x1f\x8b\x08\x00 this is not a gzip stream")
    client.ingest_from_stream(
        StreamDescriptor(broken, is_compressed=True, stream_name="rows.csv.gz"), _properties()
    )
    message = _pop(KustoIngestStatusQueues(client))
    assert isinstance(message, FailureMessage), message
    assert message.ErrorCode == "BadRequest_InvalidArchive"
    assert message.FailureStatus == "Permanent"
    assert message.Details
    assert _rows(server) == []


def test_an_unknown_table_gives_a_failure(
    server: SdkServer, acme: tuple[str, QueuedIngestClient]
) -> None:
    _, client = acme
    props = _properties()
    props.table = "Missing"
    client.ingest_from_stream(io.BytesIO(CSV.encode()), props)
    message = _pop(KustoIngestStatusQueues(client))
    assert isinstance(message, FailureMessage), message
    assert message.ErrorCode == "BadRequest_TableNotExist"
    assert message.Table == "Missing"


def test_uploads_in_blocks_are_assembled_in_order(
    server: SdkServer, acme: tuple[str, QueuedIngestClient]
) -> None:
    """The storage client splits large uploads into Put Block and Put Block List; small
    limits here make it do so for a small blob."""
    key, client = acme
    container = _resources(server, key)["TempStorage"]
    base, _, sas = container.partition("?")
    lines = "".join(f"row{i:04d},{i}\n" for i in range(400))
    blob = BlobClient.from_blob_url(
        f"{base}/db__T__blocks__rows.csv?{sas}", max_single_put_size=1024, max_block_size=512
    )
    blob.upload_blob(lines.encode())
    client.ingest_from_blob(BlobDescriptor(blob.url, len(lines)), _properties())
    message = _pop(KustoIngestStatusQueues(client))
    assert isinstance(message, SuccessMessage), message
    loaded = server.services.warehouse.query('SELECT count(*), sum(n) FROM "acme__db"."T"')
    assert loaded == [(400, sum(range(400)))]


def _resources(server: SdkServer, key: str) -> dict[str, str]:
    rows = _mgmt(server, key, ".get ingestion resources")
    return {r["ResourceTypeName"]: r["StorageRoot"] for r in rows}


def test_one_projects_sas_opens_nothing_of_another(
    server: SdkServer, acme: tuple[str, QueuedIngestClient], tmp_path: Path
) -> None:
    key_a, client_a = acme
    key_b = server.key("mallory")
    _mgmt(server, key_b, ".create table T (name:string, n:long)")
    mine, theirs = _resources(server, key_a), _resources(server, key_b)
    # A's upload, and a failure notification in A's queue.
    path = tmp_path / "rows.csv"
    path.write_text(CSV)
    client_a.ingest_from_file(str(path), _properties(report_level=ReportLevel.FailuresOnly))
    props = _properties()
    props.table = "Missing"
    client_a.ingest_from_stream(io.BytesIO(CSV.encode()), props)

    # B's SAS on A's container and queues: refused.
    base_b, _, sas_b = theirs["TempStorage"].partition("?")
    base_a = base_b.replace("/mallory/", "/acme/")
    with pytest.raises(ClientAuthenticationError):
        BlobClient.from_blob_url(f"{base_a}/planted.csv?{sas_b}").upload_blob(b"x,1\n")
    for kind in ("FailedIngestionsQueue", "SuccessfulIngestionsQueue"):
        queue_b = QueueClient.from_queue_url(theirs[kind].replace("/mallory/", "/acme/"))
        with pytest.raises(ClientAuthenticationError):
            list(queue_b.receive_messages())
        with pytest.raises(ClientAuthenticationError):
            list(queue_b.peek_messages())
    ready_a_with_b_sas = theirs["SecuredReadyForAggregationQueue"].replace("/mallory/", "/acme/")
    with pytest.raises(ClientAuthenticationError):
        QueueClient.from_queue_url(ready_a_with_b_sas).send_message("{}")
    # A SAS whose permissions were widened no longer verifies.
    widened = mine["SuccessfulIngestionsQueue"].replace("sp=rp", "sp=rap")
    with pytest.raises(ClientAuthenticationError):
        QueueClient.from_queue_url(widened).send_message("{}")

    # B posts, to its own queue, a message naming A's upload (with A's SAS) or A's token.
    base_mine, _, sas_mine = mine["TempStorage"].partition("?")
    a_blob = f"{base_mine}/db__T__kept__rows.csv?{sas_mine}"
    BlobClient.from_blob_url(a_blob).upload_blob(CSV.encode())
    token_a = _mgmt(server, key_a, ".get kusto identity token")[0]["AuthorizationContext"]
    token_b = _mgmt(server, key_b, ".get kusto identity token")[0]["AuthorizationContext"]
    ready_b = QueueClient.from_queue_url(
        theirs["SecuredReadyForAggregationQueue"], message_encode_policy=TextBase64EncodePolicy()
    )
    blob_b = f"{base_b}/x.csv?{sas_b}"
    for blob_url, token in ((a_blob, token_b), (blob_b, token_a)):
        body = {
            "BlobPath": blob_url,
            "DatabaseName": "db",
            "TableName": "T",
            "Id": "00000000-0000-0000-0000-000000000001",
            "ReportLevel": 2,
            "AdditionalProperties": {"authorizationContext": token, "format": "csv"},
        }
        with pytest.raises(ClientAuthenticationError):
            ready_b.send_message(json.dumps(body))

    # A still reads its own failure; B's queues hold nothing of A's.
    message = _pop(KustoIngestStatusQueues(client_a))
    assert isinstance(message, FailureMessage) and message.Table == "Missing"
    client_b = _client(server, key_b)
    status_b = KustoIngestStatusQueues(client_b)
    assert status_b.failure.peek(10) == [] and status_b.success.peek(10) == []
    client_b.close()
    # Nothing B sent became an operation of B's.
    runs_b = server.services.runs.list_runs(server.services.access.project_id("mallory"))
    assert runs_b == ([], 0)


def test_storage_errors_are_azure_xml(server: SdkServer) -> None:
    key = server.key("acme")
    url = _resources(server, key)["SuccessfulIngestionsQueue"]
    base, _, sas = url.partition("?")
    response = httpx.get(f"{base}/messages", params={"numofmessages": "100"})
    assert response.status_code == 401
    assert response.headers["x-ms-error-code"] == "NoAuthenticationInformation"
    forged = sas.replace("sig=", "sig=AA", 1)
    response = httpx.get(f"{base}/messages?{forged}")
    assert response.status_code == 403
    assert response.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert "<Code>AuthenticationFailed</Code>" in response.text
    response = httpx.get(f"{base}/messages?{sas}&numofmessages=100")
    assert response.status_code == 400
    assert "numofmessages" in response.text
    with pytest.raises(HttpResponseError):
        QueueClient.from_queue_url(url).delete_message("no-such-message", "receipt")


def test_a_message_that_is_not_an_ingestion_message_is_refused(server: SdkServer) -> None:
    key = server.key("acme")
    ready = QueueClient.from_queue_url(_resources(server, key)["SecuredReadyForAggregationQueue"])
    with pytest.raises(HttpResponseError) as caught:
        ready.send_message(base64.b64encode(b"not json").decode())
    assert "not JSON" in str(caught.value)
