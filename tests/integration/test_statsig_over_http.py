"""A Statsig console client against a real `ingestd serve` process, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.integration.serving import Server, serving

DAYS = ("2024-03-01", "2024-03-02")
MAPPING = {"unit_id": "user", "event_name": "event", "timestamp": "ts", "ids": {"userID": "user"}}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path / "data", scheduler_interval_seconds="1") as running:
        yield running


@pytest.mark.slow
def test_connection_source_backfill_run_status_and_counts(server: Server) -> None:
    url, key, data = server.url, server.key, server.data
    files = data / "files" / "acme"
    rows = {
        DAYS[0]: [("u1", "view", 1_709_251_200), ("u2", "buy", 1_709_251_260)],
        DAYS[1]: [("u3", "view", 1_709_337_600)],
    }
    for day, items in rows.items():
        folder = files / "events" / day
        folder.mkdir(parents=True)
        lines = ["user,event,ts"] + [f"{u},{e},{t}" for u, e, t in items] + ["u9,view,soon"]
        (folder / "part-0.csv").write_text("\n".join(lines) + "\n")
    client = httpx.Client(base_url=url, headers={"STATSIG-API-KEY": key}, timeout=30)

    assert (
        client.post("/console/v1/ingestion/connection/file", json={"root": str(files)}).status_code
        == 200
    )
    created = client.post(
        "/console/v1/ingestion",
        json={
            "type": "file",
            "dataset": "Events",
            "source_name": "web",
            "query": "events/{ds}/*.csv",
            "column_mapping": MAPPING,
        },
    )
    assert created.status_code == 200, created.text
    backfill = client.post(
        "/console/v1/ingestion/backfill",
        json={
            "datestamp_start": DAYS[0],
            "datestamp_end": DAYS[1],
            "type": "file",
            "dataset": "Events",
        },
    )
    run_id = backfill.json()["data"]["runID"]

    deadline = time.monotonic() + 60
    while True:
        run = client.get(f"/console/v1/ingestion/runs/{run_id}").json()["data"]
        if run["latestStatus"] in ("download_complete", "download_error"):
            break
        assert time.monotonic() < deadline, run
        time.sleep(0.3)
    assert run["latestStatus"] == "download_complete"

    status = client.get(
        "/console/v1/ingestion/status", params={"startDate": DAYS[0], "endDate": DAYS[1]}
    ).json()["data"]
    assert {(r["ds"][:10], r["status"], r["rowCount"]) for r in status} == {
        (DAYS[0], "IMPORT_SUCCESSFUL", 2),
        (DAYS[1], "IMPORT_SUCCESSFUL", 1),
    }
    counts = client.get(
        "/console/v1/ingestion/events/count", params={"start_date": DAYS[0], "end_date": DAYS[1]}
    ).json()["data"]
    api_total = sum(e["count"] for day in counts for e in day["events"])
    client.close()

    # Stop the server (it holds the DuckDB file), then count what the destination really holds.
    server.stop()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        held = con.execute("SELECT count(*) FROM acme__statsig.events").fetchone()
        quarantined = con.execute("SELECT count(*) FROM _ingestd.quarantine").fetchone()
    assert held == (api_total,) == (3,)
    assert quarantined == (2,)
