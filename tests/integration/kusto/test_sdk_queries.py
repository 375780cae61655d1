"""Microsoft's own azure-kusto-data client (pinned in the dev extra) against a served ingestd,
with an ingestd key as its token: management commands and the KQL subset, parsed by the
SDK's own result classes (issue #16 item 5)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from azure.kusto.data import KustoClient, KustoConnectionStringBuilder
from azure.kusto.data.exceptions import KustoApiError

from tests.integration.serving import Server, serving

ROWS = "ann,1,2024-01-01T10:15:00Z\nbob,2,2024-01-01T10:45:00Z\ncid,3,2024-01-01T11:05:00Z\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path / "data") as running:
        yield running


def _client(server: Server) -> KustoClient:
    # The SDK takes a static token through a token provider; ingestd's keys are bearer tokens.
    kcsb = KustoConnectionStringBuilder.with_token_provider(server.url, lambda: server.key)
    return KustoClient(kcsb)


def _load(server: Server, client: KustoClient) -> None:
    client.execute_mgmt("db", ".create table T (name:string, n:long, at:datetime)")
    files = server.data / "files" / "acme"
    files.mkdir(parents=True, exist_ok=True)
    (files / "t.csv").write_text(ROWS)
    posted = httpx.post(
        f"{server.url}/v1/rest/ingestion/queued/db/T",
        json={
            "blobs": [{"url": (files / "t.csv").as_uri()}],
            "properties": {"format": "csv", "enableTracking": True},
        },
        headers={"Authorization": f"Bearer {server.key}"},
    )
    operation = posted.json()["ingestionOperationId"]
    for _ in range(600):  # a safety net against a hang, not a measurement
        status = httpx.get(
            f"{server.url}/v1/rest/ingestion/queued/db/T/{operation}",
            headers={"Authorization": f"Bearer {server.key}"},
        ).json()["status"]
        if status["InProgress"] == 0:
            assert status["Succeeded"] == 1, status
            return
        time.sleep(0.1)
    raise AssertionError("the load did not finish")


def test_mgmt_commands_and_queries_through_the_sdk(server: Server) -> None:
    client = _client(server)
    _load(server, client)
    tables = client.execute_mgmt("db", ".show tables").primary_results[0]
    assert [row["TableName"] for row in tables] == ["T"]
    again = client.execute("db", ".create table T (name:string, other:long)").primary_results[0]
    assert '"CslType":"long"' in again[0]["Schema"]  # the JSON schema, table unchanged

    count = client.execute("db", "T | count").primary_results[0]
    assert count[0]["Count"] == 3
    rows = client.execute("db", "T | where n >= 2 | order by n asc | project name, at")
    primary = rows.primary_results[0]
    assert [(r["name"], r["at"]) for r in primary] == [
        ("bob", datetime(2024, 1, 1, 10, 45, tzinfo=UTC)),
        ("cid", datetime(2024, 1, 1, 11, 5, tzinfo=UTC)),
    ]
    assert rows.errors_count == 0
    hourly = client.execute(
        "db", "T | summarize people = count(), total = sum(n) by bin(at, 1h) | order by at asc"
    ).primary_results[0]
    assert [(r["at"].hour, r["people"], r["total"]) for r in hourly] == [(10, 2, 3), (11, 1, 3)]
    assert [c.column_type for c in hourly.columns] == ["datetime", "long", "long"]

    with pytest.raises(KustoApiError) as refused:
        client.execute("db", "T | join (U) on a")
    error = refused.value.get_api_error()
    assert error.code == "BadRequest_SyntaxError" and error.permanent is True
    assert "'join' is not supported" in error.description
