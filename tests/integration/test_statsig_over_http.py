"""A Statsig console client against a real `ingestd serve` process, over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

DAYS = ("2024-03-01", "2024-03-02")
MAPPING = {"unit_id": "user", "event_name": "event", "timestamp": "ts", "ids": {"userID": "user"}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    key: str
    data: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop serving (the process holds the DuckDB file) and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    env = {**os.environ, "INGESTD_DATA_DIR": str(data), "INGESTD_SCHEDULER_INTERVAL_SECONDS": "1"}
    cli = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]
    created = subprocess.run(
        [*cli, "keys", "create", "--project", "acme", "--kind", "console"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = _free_port()
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        assert time.monotonic() < deadline, "ingestd serve did not come up"
        time.sleep(0.2)
    running = Server(url, key, data, process)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.slow
def test_connection_source_backfill_run_status_and_counts(server: Server) -> None:
    url, key, data = server.url, server.key, server.data
    files = data / "files"
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
        held = con.execute("SELECT count(*) FROM statsig.events").fetchone()
        quarantined = con.execute("SELECT count(*) FROM _ingestd.quarantine").fetchone()
    assert held == (api_total,) == (3,)
    assert quarantined == (2,)
