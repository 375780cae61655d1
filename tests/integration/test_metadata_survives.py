"""Metadata is never lost (issue #11 item 6): the sequence that once lost every server write
after it, repeated against a real ``ingestd serve``. Writes answered through the API, CLI
processes writing the same SQLite metadata in between, a source that tries to read
``metadata.sqlite*`` (refused), then a stop and a restart: every answered write is there."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.serving import CLI, serving

pytestmark = pytest.mark.slow

MAPPING = {"unit_id": "user", "event_name": "event", "timestamp": "ts", "ids": {"userID": "user"}}
DAY = "2024-03-01"


def _cli(data: Path, *args: str) -> str:
    env = {**os.environ, "INGESTD_DATA_DIR": str(data)}
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def _source(client: httpx.Client, name: str, query: str) -> None:
    body = {
        "type": "file",
        "dataset": "Events",
        "source_name": name,
        "query": query,
        "column_mapping": MAPPING,
    }
    created = client.post("/console/v1/ingestion", json=body)
    assert created.status_code == 200, created.text


def _backfill(client: httpx.Client, source: str) -> str:
    body = {
        "datestamp_start": DAY,
        "datestamp_end": DAY,
        "type": "file",
        "dataset": "Events",
        "source": source,
    }
    answered = client.post("/console/v1/ingestion/backfill", json=body)
    assert answered.status_code == 200, answered.text
    return str(answered.json()["data"]["runID"])


def _settled(client: httpx.Client, run_id: str) -> str:
    deadline = time.monotonic() + 60  # a safety net against a hang, not a measurement
    while True:
        status = str(
            client.get(f"/console/v1/ingestion/runs/{run_id}").json()["data"]["latestStatus"]
        )
        if status in ("download_complete", "download_error"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.3)


def test_every_answered_write_survives_cli_processes_a_metadata_read_and_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    files = data / "files" / "acme"
    (files / "events" / DAY).mkdir(parents=True)
    (files / "events" / DAY / "a.csv").write_text("user,event,ts\nu1,view,1709251200\n")
    answered_runs: list[str] = []
    cli_keys: list[str] = []

    with serving(data, scheduler_interval_seconds="1") as server:
        client = httpx.Client(
            base_url=server.url, headers={"STATSIG-API-KEY": server.key}, timeout=30
        )
        connection = client.post("/console/v1/ingestion/connection/file", json={"root": str(files)})
        assert connection.status_code == 200, connection.text
        _source(client, "before", "events/{ds}/*.csv")
        answered_runs.append(_backfill(client, "before"))
        assert _settled(client, answered_runs[-1]) == "download_complete"

        # A source that tries to read ingestd's own metadata files: refused, nothing opened.
        _source(client, "snoop", "../../metadata.sqlite*")
        snoop = _backfill(client, "snoop")
        answered_runs.append(snoop)
        assert _settled(client, snoop) == "download_error"
        # And a DuckDB source whose database file is the metadata: refused when it runs.
        duck = client.post(
            "/console/v1/ingestion/connection/duckdb", json={"path": str(data / "metadata.sqlite")}
        )
        assert duck.status_code == 200, duck.text
        body = {
            "type": "duckdb",
            "dataset": "Events",
            "source_name": "snoop-duckdb",
            "query": "SELECT * FROM read_blob('metadata.sqlite*')",
            "column_mapping": MAPPING,
        }
        assert client.post("/console/v1/ingestion", json=body).status_code == 200
        answered = client.post(
            "/console/v1/ingestion/backfill",
            json={
                "datestamp_start": DAY,
                "datestamp_end": DAY,
                "type": "duckdb",
                "dataset": "Events",
            },
        )
        assert answered.status_code == 200, answered.text
        answered_runs.append(str(answered.json()["data"]["runID"]))
        assert _settled(client, answered_runs[-1]) == "download_error"

        # CLI processes open, write and close the same SQLite metadata while the server runs.
        cli_keys.append(_cli(data, "keys", "create", "--project", "acme", "--kind", "read"))
        _source(client, "between", "events/{ds}/*.csv")
        answered_runs.append(_backfill(client, "between"))
        cli_keys.append(_cli(data, "keys", "create", "--project", "acme", "--kind", "ingest"))
        _source(client, "after", "events/{ds}/*.csv")
        answered_runs.append(_backfill(client, "after"))
        for run_id in answered_runs[-2:]:
            assert _settled(client, run_id) == "download_complete"
        client.close()
        console_key = server.key

    # Restarted on the same data directory: every answered write is there.
    with serving(data) as again:
        client = httpx.Client(
            base_url=again.url, headers={"STATSIG-API-KEY": console_key}, timeout=30
        )
        for name in ("before", "snoop", "between", "after"):
            found = client.get(
                "/console/v1/ingestion",
                params={"type": "file", "dataset": "Events", "source_name": name},
            )
            assert found.status_code == 200, (name, found.text)
        for run_id in answered_runs:
            run = client.get(f"/console/v1/ingestion/runs/{run_id}")
            assert run.status_code == 200, (run_id, run.text)
            refused = run_id in answered_runs[1:3]
            expected = "download_error" if refused else "download_complete"
            assert run.json()["data"]["latestStatus"] == expected
        for key in cli_keys:
            assert (
                client.get(
                    "/console/v1/ingestion/runs", headers={"STATSIG-API-KEY": key}
                ).status_code
                == 200
            )
        client.close()
