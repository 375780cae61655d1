"""The Amperity dialect end to end over HTTP, on each metadata store: a token from client
credentials, a feed started over the API, records streamed, and every ingest job's counts equal
to what is in the destination (rows, quarantine and the load ledger)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.domain.connections import connection_body
from ingestd.domain.sources import LoadMode
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.services import Services
from tests.conftest import make_services

TENANT = "acme"
CUSTOMERS = TableSpec(
    "crm",
    "customers",
    (Column("id", ColumnType.INT64, nullable=False), Column("age", ColumnType.INT64)),
    primary_key=("id",),
)
SIGNUPS = TableSpec(
    "web", "signups", (Column("email", ColumnType.STRING), Column("plan", ColumnType.STRING))
)
COUNTS = ("read", "errors", "rejected", "inserted", "updated")


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    svc = make_services(tmp_path / "data", database_url, retry_base_seconds=0.01)
    yield svc
    svc.close()


def test_job_counts_equal_the_destination(services: Services) -> None:
    project_id = services.access.ensure_project(TENANT)
    files = services.settings.data_dir / "files" / TENANT
    services.catalog.create_table(project_id, CUSTOMERS)
    services.catalog.create_table(project_id, SIGNUPS)
    services.catalog.create_connection(
        project_id, "files", connection_body("file", {"root": str(files)})
    )
    feed = services.catalog.create_source(
        project_id,
        name="customers",
        table="crm.customers",
        connection="files",
        path_template="customers/{ds}.csv",
        load_mode=LoadMode.UPSERT,
    )
    services.streams.create_stream(project_id, "signups", "web.signups")
    (files / "customers").mkdir(parents=True)
    (files / "customers" / "2024-03-01.csv").write_text("id,age\n1,30\n2,41\n2,41\n3,old\n4,50\n")
    (files / "customers" / "2024-03-02.csv").write_text("id,age\n1,31\n5,22\n6,x\n")
    client_credentials = services.oauth.create_client(TENANT, KeyKind.INGEST)

    with TestClient(create_app(services, background=False)) as http:
        token = http.post(
            "/api/v0/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_credentials.client_id,
                "client_secret": client_credentials.client_secret,
            },
            headers={"X-Amperity-Tenant": TENANT},
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "amperity-tenant": TENANT,
            "api-version": "2024-04-01",
        }
        started = http.post(
            "/api/workflow/runs",
            json={
                "config_id": f"df-{feed.id}",
                "range_from": "2024-03-01",
                "range_to": "2024-03-03",
            },
            headers=headers,
        )
        assert started.status_code == 201
        for record in (
            {"email": "a@example.com", "plan": "free"},
            {"email": "b@example.com", "plan": "pro"},
            {"email": "a@example.com", "plan": "free"},
        ):
            posted = http.post(
                "/stream/v0/data/signups", content=json.dumps(record), headers=headers
            )
            assert posted.status_code == 202
        stream_feed = services.streams.stream_source(project_id, "signups")
        flushed = http.post(
            "/api/workflow/runs", json={"config_id": f"df-{stream_feed.id}"}, headers=headers
        )
        assert flushed.status_code == 201
        pool = services.pool(workers=1)
        while pool.run_once():
            pass
        now = datetime.now(UTC)
        jobs = http.get(
            "/api/ingest/jobs",
            params={
                "created_from": (now - timedelta(hours=1)).isoformat(),
                "created_to": (now + timedelta(hours=1)).isoformat(),
            },
            headers=headers,
        ).json()["data"]
        # the same runs as workflows, filtered and paged on this store
        succeeded = http.get(
            "/api/workflow/runs", params={"state": "Succeeded", "limit": 1}, headers=headers
        ).json()
        rest = http.get(
            "/api/workflow/runs",
            params={"state": "succeeded", "next_token": succeeded["next_token"]},
            headers=headers,
        ).json()
        workflow_ids = {w["id"] for w in succeeded["data"] + rest["data"]}
        assert workflow_ids == {job["workflow_id"] for job in jobs}
        assert "next_token" not in rest

    assert len(jobs) == 2
    warehouse = services.warehouse
    totals: dict[str, dict[str, int]] = {}
    for job in jobs:
        run_id = str(uuid.UUID(job["id"].removeprefix("isj-")))
        for table in job["tables"]:
            assert table["state"] == "succeeded"
            assert table["read"] == sum(table[k] for k in COUNTS[1:])
            ledger = warehouse.query(
                "SELECT sum(read), sum(errors), sum(rejected), sum(inserted), sum(updated) "
                "FROM _ingestd.ledger WHERE run_id = ? AND table_name = ?",
                [run_id, table["table_name"]],
            )
            assert ledger == [tuple(table[k] for k in COUNTS)]
            quarantined = warehouse.query(
                "SELECT count(*) FROM _ingestd.quarantine WHERE run_id = ? AND table_name = ?",
                [run_id, table["table_name"]],
            )
            assert quarantined == [(table["errors"],)]
            total = totals.setdefault(table["table_name"], dict.fromkeys(COUNTS, 0))
            for k in COUNTS:
                total[k] += table[k]

    # Upserts replace rows; every inserted key is one row of the table.
    customers = totals["crm.customers"]
    expected = {"read": 8, "errors": 2, "rejected": 1, "inserted": 4, "updated": 1}
    assert customers == expected
    assert warehouse.query("SELECT count(*) FROM acme__crm.customers") == [(customers["inserted"],)]
    assert warehouse.query("SELECT age FROM acme__crm.customers WHERE id = 1") == [(31,)]
    signups = totals["web.signups"]
    assert signups == {"read": 3, "errors": 0, "rejected": 1, "inserted": 2, "updated": 0}
    assert warehouse.query("SELECT count(*) FROM acme__web.signups") == [(signups["inserted"],)]
