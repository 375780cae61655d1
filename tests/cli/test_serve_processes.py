"""`ingestd serve --api-processes N`: API processes that answer on serve's port, beside it.

The integration tests run a real serve on PostgreSQL metadata and destination. To know that
an API process (not serve itself) answered, serve is stopped with SIGSTOP: the processes share
one listening socket, so while serve is stopped only they can accept.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ingestd.cli.remote import discovery
from ingestd.control.deployment import check_deployment
from ingestd.errors import DeploymentInvalid
from ingestd.settings import Settings
from tests.integration.serving import CLI, Server, serving


def test_several_api_processes_need_postgres_metadata(tmp_path: Path) -> None:
    with pytest.raises(DeploymentInvalid, match="cannot share SQLite metadata") as refused:
        check_deployment(Settings(data_dir=tmp_path, api_processes=2))
    assert "INGESTD_DATABASE_URL" in (refused.value.hint or "")


def test_several_api_processes_need_a_postgres_destination(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        api_processes=2,
        database_url="postgresql+psycopg://ingestd@127.0.0.1/ingestd",
    )
    with pytest.raises(DeploymentInvalid, match="cannot share the DuckDB destination") as refused:
        check_deployment(settings)
    assert "INGESTD_DESTINATION_URL" in (refused.value.hint or "")


def test_one_api_process_needs_nothing(tmp_path: Path) -> None:
    check_deployment(Settings(data_dir=tmp_path))


def test_serve_refuses_the_option_on_the_embedded_defaults(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "serve", "--port", "1", "--api-processes", "2"],
        env={**os.environ, "INGESTD_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "INGESTD_API_PROCESSES=2 cannot share SQLite metadata" in done.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"ingestd.cli.serve_processes" in command:
            found.append(int(entry.name))
    return sorted(found)


def _wait_for(what: str, check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _healthz_count(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(
        r'^ingestd_http_requests_total\{dialect="other",status="200"\} (\S+)$', text, re.M
    )
    assert found, text
    return float(found.group(1))


@pytest.fixture
def three_processes(tmp_path: Path, postgres_url: str) -> Iterator[Server]:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    with serving(
        tmp_path / "data",
        database_url=postgres_url,
        destination_url=postgres_url,
        fetch_allowed_networks="127.0.0.1/32,::1/128",
        api_processes="3",
    ) as server:
        _wait_for("two API processes", lambda: len(_children(server.process.pid)) == 2)
        yield server


def test_api_processes_answer_while_serve_itself_cannot(three_processes: Server) -> None:
    server = three_processes
    token = discovery.read(server.data)
    assert token is not None
    before = _healthz_count(server.url)
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        for _ in range(20):
            # A new connection each time: serve cannot accept one while it is stopped.
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        # Keys and the operator token (given to each API process on its stdin) work there.
        runs = httpx.get(
            f"{server.url}/console/v1/ingestion/runs",
            headers={"STATSIG-API-KEY": server.key},
            timeout=10,
        )
        assert runs.status_code == 200, runs.text
        projects = httpx.get(
            f"{server.url}/ingestd/v1/projects",
            headers={"Authorization": f"Bearer {token.token}", "X-Ingestd-Project": "acme"},
            timeout=10,
        )
        assert projects.status_code == 200, projects.text
        # Every process's requests are in the metrics any of them reports: the 20, and each
        # scrape before this one. A request is counted only after its answer is sent, so a
        # scrape never sees itself and may arrive before an earlier request is counted; it
        # never sees more than were made.
        scrapes_before = 1  # the one that read `before`

        def all_counted() -> bool:
            nonlocal scrapes_before
            seen = _healthz_count(server.url)
            expected = before + 20 + scrapes_before
            scrapes_before += 1
            assert seen <= expected, f"{seen} requests counted, only {expected} made"
            return seen == expected

        _wait_for("every request to be counted", all_counted, seconds=10)
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def test_an_api_process_that_dies_is_started_again(three_processes: Server) -> None:
    server = three_processes
    first = _children(server.process.pid)
    os.kill(first[0], signal.SIGKILL)
    _wait_for(
        "a new API process",
        lambda: len(now := _children(server.process.pid)) == 2 and first[0] not in now,
    )
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_sigterm_stops_every_process_and_removes_the_metrics(three_processes: Server) -> None:
    server = three_processes
    children = _children(server.process.pid)
    metrics = list((server.data / "run").glob("metrics-*"))
    assert [m.name for m in metrics] == [f"metrics-{server.process.pid}"]
    server.process.terminate()
    server.process.wait(60)
    _wait_for("the API processes to exit", lambda: not any(_alive(pid) for pid in children))
    assert not metrics[0].exists()
    assert discovery.read(server.data) is None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
