"""Blobs from every kind of store, queued over the Kusto REST API, land exactly their good rows.

Each case creates the table and a CSV mapping with management commands, puts one CSV blob with
three good rows and one bad row into a real store on loopback, queues it, polls the status
endpoint until it is done, and checks the destination and the quarantine.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.kusto.conftest import (
    BUCKET,
    CONTAINER,
    CSV_WITH_ONE_BAD_ROW,
    GOOD_ROWS,
    Env,
)
from tests.integration.kusto.servers import AzureServer, GcsServer, HttpServer, S3Server

MAPPING = (
    '.create table T ingestion csv mapping "by_position" '
    '\'[{"column":"name","Properties":{"Ordinal":"0"}},\'\n'
    '\'{"column":"n","Properties":{"Ordinal":"1"}}]\''
)


def _http(env: Env, request: pytest.FixtureRequest) -> str:
    server: HttpServer = request.getfixturevalue("http_blobs")
    return server.put("people.csv", CSV_WITH_ONE_BAD_ROW)


def _s3_scheme(env: Env, request: pytest.FixtureRequest) -> str:
    s3: S3Server = request.getfixturevalue("s3")
    env.connection(
        "lake",
        "s3",
        {"endpoint_url": s3.endpoint, "buckets": [BUCKET]},
        access_key_id=s3.access_key,
        secret_access_key=s3.secret_key,
    )
    return s3.put(BUCKET, "in/people.csv", CSV_WITH_ONE_BAD_ROW)


def _s3_path_style(env: Env, request: pytest.FixtureRequest) -> str:
    s3: S3Server = request.getfixturevalue("s3")
    env.connection(
        "lake",
        "s3",
        {"endpoint_url": s3.endpoint},
        access_key_id=s3.access_key,
        secret_access_key=s3.secret_key,
    )
    s3.put(BUCKET, "path style/people.csv", CSV_WITH_ONE_BAD_ROW)
    return f"{s3.endpoint}/{BUCKET}/path%20style/people.csv"


def _azure_shared_key(env: Env, request: pytest.FixtureRequest) -> str:
    azure: AzureServer = request.getfixturevalue("azure")
    env.connection(
        "blobstore",
        "adls",
        {"account": azure.account, "endpoint": azure.endpoint},
        account_key=azure.key,
    )
    return azure.put(CONTAINER, "in/people.csv", CSV_WITH_ONE_BAD_ROW)


def _azure_sas_in_url(env: Env, request: pytest.FixtureRequest) -> str:
    azure: AzureServer = request.getfixturevalue("azure")
    # The connection only says where the account is served; the SAS authenticates.
    env.connection("blobstore", "adls", {"account": azure.account, "endpoint": azure.endpoint})
    url = azure.put(CONTAINER, "sas/people.csv", CSV_WITH_ONE_BAD_ROW)
    return f"{url}?{azure.sas(CONTAINER, 'sas/people.csv')}"


def _azure_kusto_key_suffix(env: Env, request: pytest.FixtureRequest) -> str:
    azure: AzureServer = request.getfixturevalue("azure")
    env.connection("blobstore", "adls", {"account": azure.account, "endpoint": azure.endpoint})
    url = azure.put(CONTAINER, "suffix/people.csv", CSV_WITH_ONE_BAD_ROW)
    return f"{url};{azure.key}"  # Kusto's "<blob URL>;<account key>" connection string


def _azurite_url_with_sas(env: Env, request: pytest.FixtureRequest) -> str:
    azure: AzureServer = request.getfixturevalue("azure")
    azure.put(CONTAINER, "direct/people.csv", CSV_WITH_ONE_BAD_ROW)
    sas = azure.sas(CONTAINER, "direct/people.csv")
    return f"{azure.endpoint}/{CONTAINER}/direct/people.csv?{sas}"  # no connection at all


def _gcs(env: Env, request: pytest.FixtureRequest) -> str:
    gcs: GcsServer = request.getfixturevalue("gcs")
    env.connection("gcs", "gcs", {"endpoint_url": gcs.endpoint})
    return gcs.put("in/people.csv", CSV_WITH_ONE_BAD_ROW)


def _file(env: Env, request: pytest.FixtureRequest) -> str:
    return env.file_url("people.csv", CSV_WITH_ONE_BAD_ROW)


STORES: dict[str, Callable[[Env, pytest.FixtureRequest], str]] = {
    "http": _http,
    "s3-scheme": _s3_scheme,
    "s3-path-style-endpoint": _s3_path_style,
    "azure-shared-key": _azure_shared_key,
    "azure-sas-in-url": _azure_sas_in_url,
    "azure-kusto-key-suffix": _azure_kusto_key_suffix,
    "azurite-url-with-sas": _azurite_url_with_sas,
    "gcs-emulator": _gcs,
    "file": _file,
}


@pytest.mark.parametrize("store", list(STORES))
def test_a_blob_from_each_store_lands_exactly_its_good_rows(
    env: Env, request: pytest.FixtureRequest, store: str
) -> None:
    env.create_table()
    env.rows(MAPPING)
    url = STORES[store](env, request)
    operation = env.submit(
        [{"url": url, "sourceId": "6f0e0a4e-3f5b-4a55-9a59-6d1a1c2b3e4f"}],
        {"ingestionMappingReference": "by_position"},
    )

    body = env.wait(operation)

    assert body["status"] == {"Succeeded": 1, "Failed": 0, "InProgress": 0, "Canceled": 0}
    (detail,) = body["details"]
    assert detail["sourceId"] == "6f0e0a4e-3f5b-4a55-9a59-6d1a1c2b3e4f"
    assert "sig=" not in detail["url"] or "sig=****" in detail["url"]
    assert env.table_rows() == GOOD_ROWS
    ((_, code, raw),) = env.quarantined()
    assert code == "TYPE_MISMATCH" and "not-a-number" in raw
    (unit,) = env.services.runs.list_runs(env.project_id)[0][0].units
    assert (unit.counts.read, unit.counts.inserted, unit.counts.errors) == (4, 3, 1)
