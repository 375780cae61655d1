"""`make cluster` (scripts/cluster.py): one serve and two workers load the demo through the
broker, and Ctrl-C (SIGINT) stops all three."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL, require_service
from tests.integration.kusto.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
DEMO_RUNS = 6  # two sources x three days, one run each
ADMIN = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")


class Output:
    """The script's output, read as it comes (a thread), so a full pipe never blocks it."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self, process: subprocess.Popen[str]) -> None:
        self._thread.join(30)
        if process.stdout is not None:
            process.stdout.close()

    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(
        self, pattern: str, process: subprocess.Popen[str], timeout: float
    ) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            assert process.poll() is None, f"the script exited:\n{self.text()[-6000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.text()[-6000:]}"
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_cluster_loads_the_demo_through_the_workers_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            pass
    except OSError as exc:
        require_service("Redis", f"nothing listens on 127.0.0.1:6379 ({exc})")
    try:
        psycopg.connect(ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", str(exc).splitlines()[0])

    tag = uuid.uuid4().hex[:8]
    metadata, destination = f"ingestd_mkcluster_{tag}", f"ingestd_mkcluster_{tag}_data"
    port = free_port()
    script = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "scripts" / "cluster.py"), "--port", str(port)),
            *("--data-dir", str(tmp_path / "data"), "--admin-url", ADMIN),
            *("--metadata-db", metadata, "--destination-db", destination),
            *("--queue", f"ingestd.test.{tag}"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(script)
    pids: dict[str, int] = {}
    try:
        key = output.wait_for(r"^(console-\S+)$", script, timeout=240).group(1)
        processes = output.wait_for(r"^Processes: (.*); Ctrl-C", script, timeout=10).group(1)
        pids = {name: int(pid) for name, pid in re.findall(r"([\w-]+) pid (\d+)", processes)}
        assert set(pids) == {"serve", "worker-1", "worker-2"}

        # Through the native API: every demo run ends, and succeeds (bad rows are quarantined,
        # their units still succeed).
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            deadline = time.monotonic() + 240
            while True:
                page = client.get("/ingestd/v1/runs", params={"trigger": "backfill"})
                assert page.status_code == 200, page.text
                runs = page.json()["data"]
                ended = [r for r in runs if r["state"] not in ("enqueued", "running")]
                if len(runs) == DEMO_RUNS and len(ended) == DEMO_RUNS:
                    break
                assert time.monotonic() < deadline, f"{runs}\n{output.text()[-6000:]}"
                time.sleep(0.5)
            assert {r["state"] for r in runs} == {"succeeded"}, runs
            units = [
                unit
                for run in runs
                for unit in client.get(f"/ingestd/v1/runs/{run['id']}").json()["units"]
            ]
        assert len(units) == DEMO_RUNS
        assert all(u["counts"]["read"] > 0 for u in units), units
        # The workers ran them: each unit's start is in a worker's output, none in serve's.
        for unit in units:
            starts = [line for line in output.lines if f"unit {unit['id']} started" in line]
            assert starts, f"unit {unit['id']} never started:\n{output.text()[-6000:]}"
            assert all(line.startswith("worker-") for line in starts), starts

        script.send_signal(signal.SIGINT)
        assert script.wait(120) == 0, output.text()[-6000:]
        assert not [name for name, pid in pids.items() if _alive(pid)], output.text()[-3000:]
        assert re.search(r"^stopped: ", output.text(), re.MULTILINE), output.text()[-3000:]
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(30)
        for pid in pids.values():  # the script's children, if it could not stop them
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        output.close(script)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            for name in (metadata, destination):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
