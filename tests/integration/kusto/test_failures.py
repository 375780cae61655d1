"""Every failure kind of a queued blob shows its Kusto errorCode and failureStatus
(API-SURFACE §3.4, §3.8), against real servers on loopback. One bad blob never fails its
request: the POST succeeds and the blob reports Failed."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kusto.conftest import BUCKET, CONTAINER, Env, make_env
from tests.integration.kusto.servers import AzureServer, HttpServer, S3Server

Case = Callable[[Env, pytest.FixtureRequest], tuple[str, dict[str, Any]]]


def _http(request: pytest.FixtureRequest) -> HttpServer:
    server: HttpServer = request.getfixturevalue("http_blobs")
    return server


def missing_http(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).url("/blobs/nobody-put-this.csv"), {}


def missing_s3(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    s3: S3Server = request.getfixturevalue("s3")
    env.connection(
        "lake", "s3", {"endpoint_url": s3.endpoint}, access_key_id="k", secret_access_key="s"
    )
    return f"s3://{BUCKET}/not/there.csv", {}


def missing_azure(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    azure: AzureServer = request.getfixturevalue("azure")
    env.connection(
        "blobs",
        "adls",
        {"account": azure.account, "endpoint": azure.endpoint},
        account_key=azure.key,
    )
    return f"https://{azure.account}.blob.core.windows.net/{CONTAINER}/not/there.csv", {}


def missing_file(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return (env.files / "not-there.csv").as_uri(), {}


def empty_blob(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("empty.csv", b""), {}


def empty_gzip(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("empty.csv.gz", gzip.compress(b"")), {}


def garbage_parquet(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("garbage.parquet", b"\x00\x01not parquet at all" * 50), {
        "format": "parquet"
    }


def corrupt_gzip(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    packed = gzip.compress("".join(f"row{i * 7919 % 10007},{i}\n" for i in range(5000)).encode())
    return _http(request).put("cut.csv.gz", packed[: len(packed) // 2]), {}


def binary_as_csv(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("binary.csv", bytes(range(256)) * 4), {}


def undecodable_text(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("latin.csv", "caf\xe9,1\n".encode("latin-1")), {}


def record_over_8_mib(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("huge-record.csv", b"x" * ((8 << 20) + 16) + b",1\n"), {}


def bad_rows_with_fail_policy(
    env: Env, request: pytest.FixtureRequest
) -> tuple[str, dict[str, Any]]:
    url = _http(request).put("one-bad-row.csv", "a,1\nb,oops\n")
    return url, {"validationPolicy": '{"ValidationOptions":1,"ValidationImplications":0}'}


def json_without_mapping(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("rows.json", '{"name": "a", "n": 1}\n'), {"format": "json"}


def json_by_name_without_mapping(
    env: Env, request: pytest.FixtureRequest
) -> tuple[str, dict[str, Any]]:
    return _http(request).put("named.json", '{"name": "a", "n": 1}\n'), {"format": None}


def table_dropped(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("fine.csv", "a,1\n"), {"drop_table": True}


def forbidden(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).url("/status/403"), {}


def wrong_azure_key(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    azure: AzureServer = request.getfixturevalue("azure")
    wrong = "V3Jvbmcga2V5IGZvciB0aGlzIGFjY291bnQsIG9uIHB1cnBvc2UhIQ=="
    env.connection(
        "blobs", "adls", {"account": azure.account, "endpoint": azure.endpoint}, account_key=wrong
    )
    return azure.put(CONTAINER, "wrong-key.csv", "a,1\n"), {}


def server_error(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).url("/status/503"), {}


def connection_reset(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).url("/reset"), {}


def connection_refused(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    from tests.integration.kusto.servers import free_port

    return f"http://127.0.0.1:{free_port()}/nobody-listens.csv", {}


def timeout(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).url("/slow"), {}


def too_large(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("big.csv", b"a,1\n" * 1000), {"limit": 1000}


def too_large_streamed(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    server = _http(request)
    server.put("big-stream.csv", b"a,1\n" * 100_000)
    return server.url("/stream/big-stream.csv"), {"limit": 100_000}


def metadata_address(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return "http://169.254.169.254/latest/meta-data/iam/security-credentials/", {}


def private_address(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return "http://10.1.2.3/data.csv", {}


def loopback_not_allowed(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).put("local.csv", "a,1\n"), {"allow_loopback": False}


def redirect_to_private(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return _http(request).url("/redirect?to=http://192.168.10.20/secret.csv"), {}


def redirect_to_metadata(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    target = "http://[::ffff:169.254.169.254]/latest/meta-data/"
    return _http(request).url(f"/redirect?to={target}"), {}


def other_scheme(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return "ftp://127.0.0.1/data.csv", {}


def file_outside_roots(env: Env, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return "file:///etc/passwd", {}


# case → (errorCode, failureStatus)
CASES: dict[str, tuple[Case, str, str]] = {
    "missing-http": (missing_http, "Download_SourceNotFound", "Permanent"),
    "missing-s3": (missing_s3, "Download_SourceNotFound", "Permanent"),
    "missing-azure": (missing_azure, "Download_SourceNotFound", "Permanent"),
    "missing-file": (missing_file, "Download_SourceNotFound", "Permanent"),
    "empty": (empty_blob, "BadRequest_EmptyBlob", "Permanent"),
    "empty-gzip": (empty_gzip, "BadRequest_EmptyBlob", "Permanent"),
    "garbage-parquet": (garbage_parquet, "BadRequest_NoRecordsOrWrongFormat", "Permanent"),
    "corrupt-gzip": (corrupt_gzip, "BadRequest_InvalidArchive", "Permanent"),
    "binary-as-csv": (binary_as_csv, "BadRequest_NoRecordsOrWrongFormat", "Permanent"),
    "undecodable-text": (
        undecodable_text,
        "BadRequest_UnexpectedCharacterInInputStream",
        "Permanent",
    ),
    "record-over-8-mib": (record_over_8_mib, "Stream_InputStreamTooLarge", "Permanent"),
    "bad-row-under-fail-policy": (
        bad_rows_with_fail_policy,
        "BadRequest_NoRecordsOrWrongFormat",
        "Permanent",
    ),
    "json-without-mapping": (json_without_mapping, "BadRequest_MissingMappingFailure", "Permanent"),
    "json-by-name-without-mapping": (
        json_by_name_without_mapping,
        "BadRequest_MissingMappingFailure",
        "Permanent",
    ),
    "table-dropped-after-queueing": (table_dropped, "BadRequest_TableNotExist", "Permanent"),
    "forbidden": (forbidden, "Download_Forbidden", "Permanent"),
    # Azurite answers a bad Shared Key signature with 403 AuthorizationFailure (Azure itself
    # says AuthenticationFailed, reported as BadRequest_InvalidAuthentication: unit-tested).
    "wrong-azure-key": (wrong_azure_key, "Download_Forbidden", "Permanent"),
    "server-error": (server_error, "Download_UnknownError", "Exhausted"),
    "connection-reset": (connection_reset, "Download_UnknownError", "Exhausted"),
    "connection-refused": (connection_refused, "Download_UnknownError", "Exhausted"),
    "timeout": (timeout, "Timeout", "Exhausted"),
    "too-large": (too_large, "BadRequest_FileTooLarge", "Permanent"),
    "too-large-streamed": (too_large_streamed, "BadRequest_FileTooLarge", "Permanent"),
    "metadata-address": (metadata_address, "BadRequest_InvalidBlobUri", "Permanent"),
    "private-address": (private_address, "BadRequest_InvalidBlobUri", "Permanent"),
    "loopback-not-allowed": (loopback_not_allowed, "BadRequest_InvalidBlobUri", "Permanent"),
    "redirect-to-private": (redirect_to_private, "BadRequest_InvalidBlobUri", "Permanent"),
    "redirect-to-mapped-metadata": (redirect_to_metadata, "BadRequest_InvalidBlobUri", "Permanent"),
    "ftp-scheme": (other_scheme, "BadRequest_InvalidBlobUri", "Permanent"),
    "file-outside-roots": (file_outside_roots, "BadRequest_InvalidBlobUri", "Permanent"),
}


@pytest.fixture
def case_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """An Env whose settings the case may change (size limit, loopback allowance)."""
    make, _, _ = CASES[request.param]
    settings: dict[str, Any] = {}
    if make in (too_large, too_large_streamed):
        settings["blob_max_bytes"] = 1000 if make is too_large else 100_000
    if make is loopback_not_allowed:
        settings["fetch_allowed_networks"] = ""
    if make is timeout:
        settings["fetch_timeout_seconds"] = 0.3
    yield from make_env(tmp_path, **settings)


@pytest.mark.parametrize("case_env", list(CASES), indirect=True)
def test_a_failing_blob_reports_its_code_and_class(
    case_env: Env, request: pytest.FixtureRequest
) -> None:
    env = case_env
    name = request.node.callspec.params["case_env"]
    make, code, failure_status = CASES[name]
    env.create_table()
    url, extra = make(env, request)
    extra.pop("limit", None)
    extra.pop("allow_loopback", None)
    drop = extra.pop("drop_table", False)
    properties = {"format": "csv", **extra}
    if properties["format"] is None:
        del properties["format"]
    if drop:  # simulate a table dropped between the POST and the blob's turn
        env.pool.stop()
    response = env.queue([url], properties)
    assert response.status_code == 200, response.text
    operation = response.json()["ingestionOperationId"]
    if drop:
        _drop_table(env)
        env.drain()

    body = env.wait(operation)

    assert body["status"] == {"Succeeded": 0, "Failed": 1, "InProgress": 0, "Canceled": 0}
    (detail,) = body["details"]
    assert (detail["errorCode"], detail["failureStatus"]) == (code, failure_status), detail
    assert detail["details"]
    assert "sig=" not in detail["details"] or "sig=****" in detail["details"]
    summary = env.rows(f'.show queued ingestion operations "{operation}"')
    assert summary[0]["Failed"] == 1 and summary[0]["State"] == "Failed"
    assert summary[0]["SampleFailedReasons"].startswith(code)


def _drop_table(env: Env) -> None:
    from sqlalchemy import delete

    from ingestd.store.schema import TableDef

    with env.services.store.write() as session:
        session.execute(delete(TableDef).where(TableDef.name == "T"))


def test_a_transient_failure_is_retried_and_then_succeeds(env: Env, http_blobs: HttpServer) -> None:
    env.create_table()
    http_blobs.put("flaky.csv", "a,1\nb,2\n")
    http_blobs.flaky_failures = 1
    operation = env.submit([http_blobs.url("/flaky/flaky.csv")])

    body = env.wait(operation)

    assert body["status"]["Succeeded"] == 1
    assert http_blobs.hits["/flaky/flaky.csv"] == 2
    assert env.table_rows() == [("a", 1), ("b", 2)]
    (run,), _ = env.services.runs.list_runs(env.project_id)
    assert run.units[0].attempt == 2
