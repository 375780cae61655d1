"""A Kusto client against a real ``ingestd serve`` process, over HTTP: create the table and a
mapping with management commands, queue blobs from the local HTTP server and moto S3, poll the
status endpoint until done, then check what the destination holds."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
import pytest

from tests.integration.kusto.servers import HttpServer, S3Server
from tests.integration.serving import Server, serving


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(
        tmp_path / "data",
        fetch_allowed_networks="127.0.0.0/8",
        retry_base_seconds="0.05",
        retry_max_attempts="2",
    ) as running:
        yield running


def _rows(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    table = response.json()["Tables"][0]
    names = [c["ColumnName"] for c in table["Columns"]]
    return [dict(zip(names, row, strict=True)) for row in table["Rows"]]


@pytest.mark.slow
def test_create_map_queue_poll_and_count_over_http(
    server: Server, http_blobs: HttpServer, s3: S3Server
) -> None:
    client = httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.key}", "x-ms-client-request-id": "it;1"},
        timeout=30,
    )

    def mgmt(csl: str) -> list[dict[str, Any]]:
        return _rows(client.post("/v1/rest/mgmt", json={"db": "sales", "csl": csl}))

    mgmt(".create table Orders (id:long, customer:string, amount:real)")
    mgmt(
        '.create table Orders ingestion json mapping "orders_json" '
        """'[{"column":"id","Properties":{"Path":"$.id"}},'"""
        """'{"column":"customer","Properties":{"Path":"$.who.name"}},'"""
        """'{"column":"amount","Properties":{"Path":"$.amount"}}]'"""
    )
    # The S3 connection is an operator's job (CLI); the blob URLs then name only the bucket.
    cli = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]
    subprocess.run(
        [
            *cli,
            "--data-dir",
            str(server.data),
            "connections",
            "create",
            "lake",
            "--project",
            "acme",
            "--kind",
            "s3",
            "--config",
            f'{{"endpoint_url": "{s3.endpoint}"}}',
            "--secret",
            f"access_key_id={s3.access_key}",
            "--secret",
            f"secret_access_key={s3.secret_key}",
        ],
        check=True,
        capture_output=True,
    )
    first = http_blobs.put(
        "orders-1.json",
        '{"id": 1, "who": {"name": "ann"}, "amount": 9.5}\n'
        '{"id": 2, "who": {"name": "bob"}, "amount": "lots"}\n',
    )
    second = s3.put(
        "bucket", "orders/orders-2.json", '{"id": 3, "who": {"name": "cy"}, "amount": 1}\n'
    )
    response = client.post(
        "/v1/rest/ingestion/queued/sales/Orders",
        json={
            "blobs": [{"url": first}, {"url": second}],
            "properties": {
                "format": "json",
                "ingestionMappingReference": "orders_json",
                "enableTracking": True,
                "tags": ["ingest-by:orders-batch-1"],
                "ingestIfNotExists": '["orders-batch-1"]',
            },
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-ms-client-request-id"] == "it;1"
    assert response.headers["x-ms-activity-id"]
    operation = response.json()["ingestionOperationId"]
    assert operation.count(";") == 2

    path = f"/v1/rest/ingestion/queued/sales/Orders/{quote(operation, safe='')}"
    deadline = time.monotonic() + 60
    while True:
        status = client.get(path, params={"details": "true"}).json()
        if status["status"]["InProgress"] == 0:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["status"] == {"Succeeded": 2, "Failed": 0, "InProgress": 0, "Canceled": 0}
    summary = mgmt(f'.show queued ingestion operations "{operation}"')
    assert (summary[0]["State"], summary[0]["Ingested"]) == ("Completed", 2)

    # The same batch again, as a command: skipped, its ingest-by tag is already there.
    repeat = mgmt(
        ".ingest-from-storage-queued into table Orders EnableTracking=true "
        "with (format='json', ingestionMappingReference='orders_json', "
        """ingestIfNotExists='["orders-batch-1"]') <| '""" + first + "'"
    )
    assert repeat[0]["ClientRequestId"] == "it;1"
    repeated = repeat[0]["IngestionOperationId"]
    while True:
        shown = mgmt(f'.show queued ingestion operations "{repeated}"')[0]
        if shown["State"] != "InProgress":
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert (shown["State"], shown["Ingested"], shown["Failed"]) == ("Completed", 1, 0)
    # Without enableTracking the REST answer is an empty id (§3.3).
    untracked = client.post(
        "/v1/rest/ingestion/queued/sales/Orders",
        json={
            "blobs": [{"url": first}],
            "properties": {
                "format": "json",
                "ingestionMappingReference": "orders_json",
                "ingestIfNotExists": ["orders-batch-1"],
            },
        },
    )
    assert untracked.json() == {"ingestionOperationId": ""}
    listed = mgmt(".show tables")
    assert [(t["TableName"], t["DatabaseName"]) for t in listed] == [("Orders", "sales")]
    client.close()

    server.stop()
    with duckdb.connect(str(server.data / "warehouse.duckdb"), read_only=True) as con:
        held = con.execute(
            'SELECT id, customer, amount FROM acme__sales."Orders" ORDER BY id'
        ).fetchall()
        quarantined = con.execute("SELECT code FROM _ingestd.quarantine").fetchall()
    assert held == [(1, "ann", 9.5), (3, "cy", 1.0)]
    assert quarantined == [("TYPE_MISMATCH",)]
