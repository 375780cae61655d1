"""The Kusto REST protocol (API-SURFACE §3.1-§3.5): auth, headers, the OneApiErrors body, the
POST and status shapes, the configuration, limits and tenancy."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from ingestd.control.access import KeyKind
from tests.api.kusto.conftest import Kusto

GUID = "123a6999-411e-4226-a333-a79992dd9b95"


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {
        "code",
        "message",
        "@type",
        "@message",
        "@context",
        "@permanent",
        "innererror",
    }
    assert set(error["@context"]) == {"timestamp", "clientRequestId", "activityId"}
    assert error["@context"]["activityId"] == response.headers["x-ms-activity-id"]
    return error


@pytest.fixture
def table(kusto: Kusto) -> None:
    kusto.rows(".create table T (name:string, n:long)")


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer console-nope", "Basic abc"])
def test_without_a_valid_bearer_key_the_answer_is_an_empty_401(
    kusto: Kusto, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for response in (
        kusto.client.get("/v1/rest/ingestion/configuration", headers=headers),
        kusto.client.post("/v1/rest/mgmt", json={"csl": ".show tables"}, headers=headers),
        kusto.client.post(
            "/v1/rest/ingestion/queued/db/T",
            json={"blobs": [{"url": "https://x/y.csv"}], "properties": {}},
            headers=headers,
        ),
    ):
        assert response.status_code == 401
        assert response.content == b""
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.headers["x-ms-activity-id"]


def test_every_response_has_an_activity_id_and_echoes_the_client_request_id(
    kusto: Kusto, table: None
) -> None:
    headers = kusto.headers(**{"x-ms-client-request-id": "MyApp;42"})
    ok = kusto.client.get("/v1/rest/ingestion/configuration", headers=headers)
    bad = kusto.client.post("/v1/rest/mgmt", json={"csl": ".nope"}, headers=headers)
    ids = {ok.headers["x-ms-activity-id"], bad.headers["x-ms-activity-id"]}
    assert len(ids) == 2
    for response in (ok, bad):
        assert response.headers["x-ms-client-request-id"] == "MyApp;42"
    assert _error(bad)["@context"]["clientRequestId"] == "MyApp;42"


def test_the_configuration_endpoint(kusto: Kusto) -> None:
    response = kusto.client.get("/v1/rest/ingestion/configuration", headers=kusto.headers())
    assert response.status_code == 200
    assert response.json() == {
        "containerSettings": {
            "containers": [],
            "lakeFolders": [],
            "refreshInterval": "01:00:00",
            "preferredUploadMethod": "Default",
        },
        "ingestionSettings": {
            "maxBlobsPerBatch": 20,
            "maxDataSize": 6442450944,
            "preferredIngestionMethod": "REST",
        },
    }


def test_a_tracked_post_returns_an_id_and_the_status_has_all_four_counts(
    kusto: Kusto, table: None
) -> None:
    url = kusto.file_url("a.csv", "x,1\ny,2\n")
    response = kusto.queue([{"url": url, "sourceId": GUID}], {"format": "csv"})
    assert response.status_code == 200
    operation = response.json()["ingestionOperationId"]
    database_crc, table_crc, run_id = operation.split(";")
    assert len(database_crc) == len(table_crc) == 8 and len(run_id) == 36

    pending = kusto.status(operation, details=False)
    assert pending.status_code == 200
    assert set(pending.json()) == {"startTime", "lastUpdated", "status"}
    assert pending.json()["status"] == {"Succeeded": 0, "Failed": 0, "InProgress": 1, "Canceled": 0}
    kusto.drain()
    done = kusto.status(operation).json()
    assert done["status"] == {"Succeeded": 1, "Failed": 0, "InProgress": 0, "Canceled": 0}
    (detail,) = done["details"]
    assert list(detail) == ["sourceId", "url", "status", "startTime", "lastUpdated"]
    assert detail["sourceId"] == GUID and detail["url"] == url
    assert detail["startTime"].endswith("Z") and len(detail["startTime"]) == 20


def test_an_untracked_post_returns_an_empty_id_and_its_status_is_not_found(
    kusto: Kusto, table: None
) -> None:
    url = kusto.file_url("a.csv", "x,1\n")
    response = kusto.client.post(
        "/v1/rest/ingestion/queued/db/T",
        json={"blobs": [{"url": url}], "properties": {"format": "csv"}},
        headers=kusto.headers(),
    )
    assert response.json() == {"ingestionOperationId": ""}
    kusto.drain()
    assert kusto.table_rows() == [("x", 1)]  # the run exists and ran all the same
    (run,), _ = kusto.services.runs.list_runs(kusto.project())
    operation = f"{'0' * 8};{'0' * 8};{run.id}"
    assert kusto.status(operation).status_code == 404
    assert (
        kusto.client.get("/v1/rest/ingestion/queued/db/T/", headers=kusto.headers()).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("operation", "database", "table_name"),
    [
        ("ingest_op_12345", "db", "T"),
        ("00001111;11112222;00001111-aaaa-2222-bbbb-3333cccc4444", "db", "T"),
        ("{op}", "db", "Other"),
        ("{op}", "other", "T"),
    ],
    ids=["vendor-example", "unknown-guid", "other-table", "other-database"],
)
def test_unknown_or_mismatched_operation_ids_are_404(
    kusto: Kusto, table: None, operation: str, database: str, table_name: str
) -> None:
    url = kusto.file_url("a.csv", "x,1\n")
    op = kusto.queue([url], {"format": "csv"}).json()["ingestionOperationId"]
    response = kusto.status(operation.format(op=op), db=database, table=table_name)
    assert response.status_code == 404
    error = _error(response)
    assert error["code"] == "BadRequest_EntityNotFound" and error["@permanent"] is True


def test_the_operation_id_may_be_sent_unencoded(kusto: Kusto, table: None) -> None:
    url = kusto.file_url("a.csv", "x,1\n")
    op = kusto.queue([url], {"format": "csv"}).json()["ingestionOperationId"]
    raw = kusto.client.get(f"/v1/rest/ingestion/queued/db/T/{op}", headers=kusto.headers())
    encoded = kusto.client.get(
        f"/v1/rest/ingestion/queued/db/T/{quote(op, safe='')}", headers=kusto.headers()
    )
    assert raw.status_code == encoded.status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"blobs": [{"url": "https://a/b.csv"}] * 21, "properties": {}}, "General_BadRequest"),
        ({"blobs": [], "properties": {}}, "General_BadRequest"),
        ({"blobs": [{"url": " "}], "properties": {}}, "BadRequest_EmptyBlobUri"),
        ({"blobs": [{"url": "https://a/b.csv"}]}, "General_BadRequest"),
        (
            {"blobs": [{"url": "https://a/b", "sourceId": "not-a-guid"}], "properties": {}},
            "General_BadRequest",
        ),
        ({"blobs": [{"url": "https://a/b", "size": 3}], "properties": {}}, "General_BadRequest"),
        (
            {"blobs": [{"url": "https://a/b"}], "properties": {"format": "w3clogfile"}},
            "BadRequest_FormatNotSupported",
        ),
        (
            {"blobs": [{"url": "https://a/b"}], "properties": {"formatt": "csv"}},
            "BadRequest_MalformedIngestionProperty",
        ),
        (
            {"blobs": [{"url": "https://a/b"}], "properties": {"extend_schema": True}},
            "BadRequest_IngestionPropertyNotSupportedInThisContext",
        ),
    ],
    ids=[
        "21-blobs",
        "no-blobs",
        "empty-url",
        "no-properties",
        "bad-source-id",
        "unknown-field",
        "unsupported-format",
        "unknown-property",
        "property-of-another-command",
    ],
)
def test_malformed_posts_are_400_with_a_precise_code(
    kusto: Kusto, table: None, body: dict[str, Any], code: str
) -> None:
    response = kusto.client.post(
        "/v1/rest/ingestion/queued/db/T", json=body, headers=kusto.headers()
    )
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["code"] == code
    assert error["@type"] == "Kusto.Data.Exceptions.KustoBadRequestException"
    assert error["@permanent"] is True
    assert kusto.services.runs.list_runs(kusto.project())[1] == 0  # nothing was queued


def test_twenty_blobs_are_accepted(kusto: Kusto, table: None) -> None:
    urls = [kusto.file_url(f"b{i}.csv", f"b{i},{i}\n") for i in range(20)]
    response = kusto.queue(urls, {"format": "csv"})
    assert response.status_code == 200
    kusto.drain()
    assert len(kusto.table_rows()) == 20


@pytest.mark.parametrize(
    ("database", "table_name", "status", "code"),
    [
        ("nodb", "T", 404, "BadRequest_DatabaseNotExist"),
        ("db", "Nope", 404, "BadRequest_TableNotExist"),
        ("bad-name", "T", 400, "BadRequest_EntityNameIsNotValid"),
        ("db", "bad-name", 400, "BadRequest_InvalidOrEmptyTableName"),
    ],
)
def test_the_target_table_must_exist_when_blobs_are_queued(
    kusto: Kusto, table: None, database: str, table_name: str, status: int, code: str
) -> None:
    response = kusto.queue(["https://a/b.csv"], table=table_name, db=database)
    assert response.status_code == status
    assert _error(response)["code"] == code


def test_key_kinds_decide_what_a_caller_may_do(kusto: Kusto, table: None) -> None:
    read = kusto.services.access.create_key("acme", KeyKind.READ)
    ingest = kusto.services.access.create_key("acme", KeyKind.INGEST)
    url = kusto.file_url("a.csv", "x,1\n")
    denied = kusto.queue([url], {"format": "csv"}, key=read)
    assert denied.status_code == 403
    assert _error(denied)["code"] == "Forbidden"
    op = kusto.queue([url], {"format": "csv"}, key=ingest).json()["ingestionOperationId"]
    assert op
    assert kusto.mgmt(".create table U (a:string)", key=ingest).status_code == 403
    assert kusto.mgmt(".show tables", key=read).status_code == 200
    assert kusto.mgmt(f".cancel queued ingestion operation '{op}'", key=read).status_code == 403
    assert kusto.mgmt(f".cancel queued ingestion operation '{op}'", key=ingest).status_code == 200


def test_a_project_never_sees_another_projects_tables_or_operations(
    kusto: Kusto, table: None
) -> None:
    url = kusto.file_url("a.csv", "x,1\n")
    op = kusto.queue([url], {"format": "csv"}).json()["ingestionOperationId"]
    other = kusto.services.access.create_key("globex", KeyKind.CONSOLE)
    headers = kusto.headers(other)
    status = kusto.client.get(
        f"/v1/rest/ingestion/queued/db/T/{quote(op, safe='')}", headers=headers
    )
    assert status.status_code == 404
    assert kusto.mgmt(f'.show queued ingestion operations "{op}"', key=other).status_code == 404
    assert kusto.mgmt(f".cancel queued ingestion operation '{op}'", key=other).status_code == 404
    response = kusto.queue([url], {"format": "csv"}, key=other)
    assert _error(response)["code"] == "BadRequest_DatabaseNotExist"
    assert kusto.rows(".show tables", key=other) == []


def test_unknown_endpoints_answer_in_the_dialect(kusto: Kusto) -> None:
    response = kusto.client.post("/v1/rest/no-such-endpoint/db/T", headers=kusto.headers())
    assert response.status_code == 404
    assert _error(response)["code"] == "BadRequest_EntityNotFound"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v1/rest/nothing", 404),
        ("GET", "/v2/rest/nothing/here", 404),
        ("POST", "/v2/rest/query/extra", 404),
        ("GET", "/v1/rest/mgmt", 405),
        ("GET", "/v2/rest/query", 405),
        ("DELETE", "/v1/rest/ingestion/configuration", 405),
    ],
    ids=["v1-unknown", "v2-unknown", "v2-under-query", "v1-mgmt-get", "v2-query-get", "v1-del"],
)
def test_every_rest_path_answers_errors_as_one_api_error(
    kusto: Kusto, method: str, path: str, status: int
) -> None:
    response = kusto.client.request(method, path, headers=kusto.headers())
    assert response.status_code == status
    error = _error(response)
    assert set(error) >= {"code", "message", "@type", "@message", "@permanent", "@context"}
    assert error["@permanent"] is True
    assert path in error["message"]
    assert response.headers["x-ms-activity-id"]


def test_a_body_that_is_not_json_is_a_400(kusto: Kusto) -> None:
    response = kusto.client.post("/v1/rest/mgmt", content=b"{not json", headers=kusto.headers())
    assert response.status_code == 400
    assert _error(response)["code"] == "General_BadRequest"


def test_an_internal_failure_is_a_500_that_tells_nothing_more(
    kusto: Kusto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingestd.api.kusto import wire

    def boom(*args: object) -> dict[str, object]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(wire, "configuration", boom)
    response = kusto.client.get("/v1/rest/ingestion/configuration", headers=kusto.headers())
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "General_InternalServerError" and error["@permanent"] is False
    assert "secret internals" not in response.text
