"""A streamed record acknowledged with 202 survives `kill -9` of `ingestd serve` right after the
answer, and loads once the server is back (API-SURFACE §2.5; issue 6 item 5)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from tests.conftest import make_services

CLI = [sys.executable, "-c", "from ingestd.cli.main import run; run()"]


def ingestd(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "COLUMNS": "200", "INGESTD_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(data_dir: Path, **settings: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`ingestd serve` on a free port, until it answers /healthz; stopped at the end if alive."""
    port = free_port()
    env = {**os.environ, "INGESTD_DATA_DIR": str(data_dir), **settings}
    process = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "ingestd serve exited"
            assert time.monotonic() < deadline, "ingestd serve did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def wait_for_job(url: str, headers: dict[str, str]) -> dict[str, Any]:
    now = datetime.now(UTC)
    params = {
        "created_from": (now - timedelta(days=1)).isoformat(),
        "created_to": (now + timedelta(days=1)).isoformat(),
    }
    deadline = time.monotonic() + 60
    while True:
        jobs = httpx.get(f"{url}/api/ingest/jobs", params=params, headers=headers).json()["data"]
        if jobs and jobs[0]["tables"][0]["state"] in ("succeeded", "failed"):
            return dict(jobs[0]["tables"][0])
        assert time.monotonic() < deadline, f"the record was not loaded: {jobs}"
        time.sleep(0.2)


@pytest.mark.slow
def test_an_acknowledged_record_survives_kill_9_and_loads_after_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ingestd(
        data_dir,
        "tables",
        "create",
        "web.signups",
        "-c",
        "id:int64:required",
        "-c",
        "email:string",
        "--project",
        "acme",
    )
    ingestd(data_dir, "streams", "create", "signups", "--table", "web.signups", "--project", "acme")
    key = ingestd(data_dir, "keys", "create", "--project", "acme", "--kind", "ingest")
    headers = {
        "Authorization": f"Bearer {key.strip().splitlines()[-1]}",
        "X-Amperity-Tenant": "acme",
        "api-version": "2024-04-01",
    }

    # A server that would not flush for an hour: the record can only be in the store.
    with serve(data_dir, INGESTD_STREAM_FLUSH_SECONDS="3600") as (process, url):
        response = httpx.post(
            f"{url}/stream/v0/data/signups",
            json={"id": 1, "email": "ann@example.com"},
            headers=headers,
        )
        os.kill(process.pid, signal.SIGKILL)  # right after the 202
        process.wait(30)
    assert response.status_code == 202

    services = make_services(data_dir)
    try:
        assert services.streams.pending(services.access.project_id("acme"), "signups") == 1
    finally:
        services.close()

    # Restarted with a short flush age: its scheduler loop flushes, its workers load.
    settings = {"INGESTD_STREAM_FLUSH_SECONDS": "0.01", "INGESTD_SCHEDULER_INTERVAL_SECONDS": "0.2"}
    with serve(data_dir, **settings) as (_, url):
        table = wait_for_job(url, headers)
    assert (table["state"], table["read"], table["inserted"]) == ("succeeded", 1, 1)

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute('SELECT id, email FROM "acme__web"."signups"').fetchall()
    assert rows == [(1, "ann@example.com")]
