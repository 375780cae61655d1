"""Nothing assumes a shared disk (issue 14 §2): what the API accepts (a Kusto SDK upload, an
Amperity stream's records) is in the metadata database when the API answers, and a worker
whose data directory is a different, empty one loads it from there.

Two ``Services`` play two machines: the API on one data directory, the worker on another, one
metadata database (an SQLite file outside both, or PostgreSQL) and the same keys, as the
deployment page asks of a cluster."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.domain.connections import connection_body
from ingestd.domain.sources import LoadMode
from ingestd.domain.states import UnitState
from ingestd.errors import ConnectionFailure
from ingestd.services import Services
from ingestd.store.payloads import CHUNK_BYTES
from ingestd.store.schema import StoredPayload
from tests.api.amperity.conftest import CUSTOMERS
from tests.conftest import make_services

SOURCE_ID = "3f0c1b6e-0000-4000-8000-000000000001"
POLL_LIMIT_SECONDS = 60.0


@dataclass
class Cluster:
    api: Services
    worker: Services
    client: TestClient
    """The API app, on the API's services only."""

    def run_units(self) -> int:
        """Run every due unit on the worker; how many ran."""
        pool = self.worker.pool(workers=1)
        ran = 0
        while pool.run_once():
            ran += 1
        return ran


@pytest.fixture
def cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    shared: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": Fernet.generate_key().decode(),
        "kusto_storage_key": "a-key-every-serve-shares",
        "retry_base_seconds": 0.01,
        "retry_max_attempts": 2,
    }
    api = make_services(tmp_path / "api-machine", **shared)
    worker = make_services(tmp_path / "worker-machine", **shared)
    with TestClient(create_app(api, background=False)) as client:
        yield Cluster(api, worker, client)
    worker.close()
    api.close()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _holding(folder: Path, marker: bytes) -> list[Path]:
    return [p for p in _files(folder) if marker in p.read_bytes()]


def _split(url: str) -> tuple[str, str]:
    base, _, sas = url.partition("?")
    return "/" + base.split("/", 3)[3], sas


def _kusto_rows(cluster: Cluster, key: str, csl: str) -> list[dict[str, Any]]:
    response = cluster.client.post(
        "/v1/rest/mgmt", json={"csl": csl, "db": "db"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    table = response.json()["Tables"][0]
    names = [c["ColumnName"] for c in table["Columns"]]
    return [dict(zip(names, row, strict=True)) for row in table["Rows"]]


def test_a_kusto_upload_is_loaded_by_a_worker_on_another_disk(cluster: Cluster) -> None:
    key = cluster.api.access.create_key("acme", KeyKind.CONSOLE)
    _kusto_rows(cluster, key, ".create table T (name:string, n:long)")
    resources = {
        r["ResourceTypeName"]: r["StorageRoot"]
        for r in _kusto_rows(cluster, key, ".get ingestion resources")
    }
    base, _, sas = resources["TempStorage"].partition("?")
    blob_path, _ = _split(f"{base}/db__T__x__rows.csv")
    # Two blocks, the first over a chunk, as the SDK's storage client sends a large blob.
    marker = b"marker-no-shared-disk"
    first = b"".join(b"row%07d,%d\n" % (i, i) for i in range(CHUNK_BYTES // 10 + 1000))
    second = marker + b",1\n"
    for block_id, data in (("YjE=", first), ("YjI=", second)):
        put = cluster.client.put(f"{blob_path}?comp=block&blockid={block_id}&{sas}", content=data)
        assert put.status_code == 201, put.text
    committed = cluster.client.put(
        f"{blob_path}?comp=blocklist&{sas}",
        content=b"<BlockList><Latest>YjE=</Latest><Latest>YjI=</Latest></BlockList>",
    )
    assert committed.status_code == 201, committed.text
    token = _kusto_rows(cluster, key, ".get kusto identity token")[0]["AuthorizationContext"]
    message = {
        "BlobPath": f"{base}/db__T__x__rows.csv?{sas}",
        "DatabaseName": "db",
        "TableName": "T",
        "Id": SOURCE_ID,
        "ReportLevel": 2,
        "ReportMethod": 0,
        "AdditionalProperties": {"authorizationContext": token, "format": "csv"},
    }
    queue_path, queue_sas = _split(resources["SecuredReadyForAggregationQueue"])
    text = base64.b64encode(json.dumps(message).encode()).decode()
    posted = cluster.client.post(
        f"{queue_path}/messages?{queue_sas}",
        content=f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>",
    )
    assert posted.status_code == 201, posted.text
    # The API's disk holds no copy of the blob; the worker's holds nothing at all yet.
    assert _holding(cluster.api.settings.data_dir, marker) == []
    assert _files(cluster.worker.settings.data_dir) == []

    assert cluster.run_units() == 1

    project_id = cluster.worker.access.project_id("acme")
    table = cluster.worker.catalog.get_table(project_id, "db.T")
    target = cluster.worker.warehouse.table_sql(table)
    rows = cluster.worker.warehouse.query(f"SELECT count(*), max(n) FROM {target}")
    assert rows == [(CHUNK_BYTES // 10 + 1001, CHUNK_BYTES // 10 + 999)]
    assert cluster.worker.warehouse.query(
        f"SELECT n FROM {target} WHERE name = 'marker-no-shared-disk'"
    ) == [(1,)]
    # The worker's staged copy went with the attempt; the upload goes once its ingestion
    # succeeded (the serve's notification pass, docs/kusto-sdk.md).
    assert list((cluster.worker.settings.data_dir / "staging").rglob("*.csv")) == []
    assert cluster.api.kusto_queues.publish() == 1
    with cluster.api.store.read() as session:
        assert session.scalars(select(StoredPayload.name)).all() == []


def test_stream_records_are_loaded_by_a_worker_on_another_disk(cluster: Cluster) -> None:
    project_id = cluster.api.access.ensure_project("acme")
    cluster.api.catalog.create_table(project_id, CUSTOMERS)
    cluster.api.streams.create_stream(
        project_id, "signups", "crm.customers", load_mode=LoadMode.UPSERT
    )
    key = cluster.api.access.create_key("acme", KeyKind.INGEST)
    headers = {
        "Authorization": f"Bearer {key}",
        "amperity-tenant": "acme",
        "Content-Type": "application/json",
    }
    marker = "marker-no-shared-disk"
    for record in (
        {"id": 1, "name": marker, "age": 30},
        {"id": 2, "age": 41},
        {"id": 1, "age": 31},
    ):
        response = cluster.client.post(
            "/stream/v0/data/signups", content=json.dumps(record), headers=headers
        )
        assert response.status_code == 202, response.text
    # Another serve, on its own data directory (the leader may be any serve), knows the stream
    # and flushes it.
    other = cluster.worker.streams
    assert [s.source.name for s in other.list_streams(project_id)] == ["signups"]
    (run,) = other.flush(project_id, "signups")
    assert _holding(cluster.api.settings.data_dir, marker.encode()) == []
    assert _files(cluster.worker.settings.data_dir) == []

    assert cluster.run_units() == 1

    unit = cluster.worker.runs.get_run(project_id, run.id).units[0]
    assert unit.state.value == "succeeded", unit.error_message
    assert (unit.counts.read, unit.counts.inserted, unit.counts.updated) == (3, 2, 1)
    table = cluster.worker.catalog.get_table(project_id, "crm.customers")
    target = cluster.worker.warehouse.table_sql(table)
    rows = cluster.worker.warehouse.query(f"SELECT id, age FROM {target} ORDER BY id")
    assert rows == [(1, 31), (2, 41)]
    assert list((cluster.worker.settings.data_dir / "staging").rglob("*.ndjson")) == []


def test_a_retry_on_another_worker_loads_a_blob_deleted_after_its_download(
    cluster: Cluster,
) -> None:
    """deleteAfterDownload: the first attempt (on the machine that can read the file) downloads
    the blob and deletes it at its source, then that machine goes away; the retry runs on a
    worker that never saw the download and still loads the blob."""
    key = cluster.api.access.create_key("acme", KeyKind.CONSOLE)
    _kusto_rows(cluster, key, ".create table T (name:string, n:long)")
    project_id = cluster.api.access.project_id("acme")
    drop = cluster.api.settings.data_dir / "files" / "acme" / "drop"
    drop.mkdir(parents=True)
    (drop / "me.csv").write_text("ann,1\nbob,2\n")
    cluster.api.catalog.create_connection(
        project_id, "drops", connection_body("file", {"root": str(drop), "allow_delete": True})
    )
    queued = cluster.client.post(
        "/v1/rest/ingestion/queued/db/T",
        json={
            "blobs": [{"url": (drop / "me.csv").as_uri()}],
            "properties": {"format": "csv", "deleteAfterDownload": True, "enableTracking": True},
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert queued.status_code == 200, queued.text

    claim = cluster.api.runs.claim_next("machine-a", lease_seconds=30)
    assert claim is not None
    cluster.api.runs.advance(claim.unit_id, "machine-a", UnitState.DOWNLOADING)
    cluster.api.runner().build_request(claim)  # downloads, keeps the copy, deletes the source
    assert not (drop / "me.csv").exists()
    cluster.api.runs.fail(claim.unit_id, "machine-a", ConnectionFailure("machine a went away"))

    deadline = time.monotonic() + POLL_LIMIT_SECONDS  # a safety net, not a measurement
    while cluster.run_units() == 0:
        assert time.monotonic() < deadline, "the retry never became due"
        time.sleep(0.02)

    unit = cluster.worker.runs.get_run(project_id, claim.run_id).units[0]
    assert (unit.state.value, unit.attempt, unit.counts.inserted) == ("succeeded", 2, 2)
    table = cluster.worker.catalog.get_table(project_id, "db.T")
    target = cluster.worker.warehouse.table_sql(table)
    rows = cluster.worker.warehouse.query(f"SELECT name, n FROM {target} ORDER BY n")
    assert rows == [("ann", 1), ("bob", 2)]
