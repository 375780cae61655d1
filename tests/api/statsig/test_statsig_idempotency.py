"""Idempotency-Key under concurrency: one key makes one run, and every request gets its answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.control.idempotency import Idempotency, IdempotencyPending, StoredResponse
from ingestd.store.schema import IdempotentResponse, Run
from tests.api.statsig.conftest import Console
from tests.conftest import make_services

DAY1, DAY2 = "2024-03-01", "2024-03-02"
BACKFILL = {"datestamp_start": DAY1, "datestamp_end": DAY2, "type": "file", "dataset": "Events"}


def count_runs(console: Console) -> int:
    with console.services.store.read() as session:
        return int(session.scalar(select(func.count(Run.id))) or 0)


@pytest.fixture
def any_store_console(tmp_path: Path, database_url: str) -> Iterator[Console]:
    """The console of conftest.py, once on SQLite and once on PostgreSQL metadata."""
    services = make_services(
        tmp_path / "data", database_url, retry_base_seconds=0.01, statsig_mutations_per_10s=1000
    )
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False)) as client:
        yield Console(client, services, key, services.settings.data_dir / "files" / "acme")
    services.close()


def test_sixteen_simultaneous_backfills_with_one_key_make_one_run(
    any_store_console: Console,
) -> None:
    console = any_store_console
    console.file_source()
    threads = 16
    start = threading.Barrier(threads)
    answers: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def send() -> None:
        start.wait()
        response = console.post(
            "/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "same-key"}
        )
        with lock:
            answers.append((response.status_code, response.json()))

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(answers) == threads
    assert count_runs(console) == 1
    first = answers[0]
    assert first[0] == 200 and first[1]["message"] == "Ingestion backfilled successfully."
    assert all(answer == first for answer in answers)


def test_a_failed_first_request_releases_its_key_so_a_retry_runs(console: Console) -> None:
    failed = console.post(
        "/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "retry-key"}
    )
    assert failed.status_code == 404
    with console.services.store.read() as session:
        assert session.scalar(select(func.count(IdempotentResponse.id))) == 0

    console.file_source()
    retried = console.post(
        "/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "retry-key"}
    )
    again = console.post(
        "/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "retry-key"}
    )
    assert retried.status_code == 200 and again.json() == retried.json()
    assert count_runs(console) == 1


def test_a_key_reused_on_another_path_is_refused(console: Console) -> None:
    console.file_source()
    console.post("/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "one-use"})
    other = console.post(
        "/console/v1/ingestion",
        {"type": "file", "dataset": "Events", "source_name": "x", "query": "q/{ds}/*.csv"},
        **{"Idempotency-Key": "one-use"},
    )
    assert other.status_code == 409


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_pending_claim_older_than_its_lease_is_taken_over(console: Console) -> None:
    store = console.services.store
    project_id = console.services.access.project_id("acme")
    clock = Clock(datetime(2024, 3, 1, 12, 0, tzinfo=UTC))
    never_waits = Idempotency(store, wait_seconds=0.0, lease_seconds=300, clock=clock)
    # the winner claims the key, then its process dies before answering
    assert never_waits.claim(project_id, "died", "POST", "/x").won

    clock.now += timedelta(seconds=299)
    with pytest.raises(IdempotencyPending):
        never_waits.claim(project_id, "died", "POST", "/x")

    clock.now += timedelta(seconds=1)
    taken_over = never_waits.claim(project_id, "died", "POST", "/x")
    assert taken_over.won and taken_over.answer is None
    never_waits.complete(project_id, "died", StoredResponse(200, {"runID": "r"}))
    repeat = never_waits.claim(project_id, "died", "POST", "/x")
    assert repeat.answer == StoredResponse(200, {"runID": "r"})


class Crash(Exception):
    """The failure injected between a run's creation and the storing of its key's answer."""


@pytest.fixture
def seamed_console(tmp_path: Path, database_url: str) -> Iterator[tuple[Console, list[str]]]:
    """A console whose idempotency fails (``Crash``) right after a request's work, before its
    answer is stored, for as long as the list it yields holds ``"crash"``; each time, it first
    notes what a separate connection sees at that instant."""
    services = make_services(
        tmp_path / "data", database_url, retry_base_seconds=0.01, statsig_mutations_per_10s=1000
    )
    mode: list[str] = ["crash"]

    def between_run_and_answer() -> None:
        with services.store.read() as session:  # another connection: only committed state
            seen = session.scalar(select(func.count(Run.id)))
        mode.append(f"runs visible: {seen}")
        if mode[0] == "crash":
            raise Crash("the process died between the run and its answer")

    services.idempotency = Idempotency(services.store, before_answer=between_run_and_answer)
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    app = create_app(services, background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Console(client, services, key, services.settings.data_dir / "files" / "acme"), mode
    services.close()


def test_a_failure_between_the_run_and_its_answer_leaves_neither(
    seamed_console: tuple[Console, list[str]],
) -> None:
    console, mode = seamed_console
    console.file_source()
    crashed = console.post("/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "k"})

    assert crashed.status_code == 500
    assert mode[1:] == ["runs visible: 0"]  # at the failure the run was not committed alone
    assert count_runs(console) == 0  # and it went with the failed transaction
    with console.services.store.read() as session:
        assert session.scalar(select(func.count(IdempotentResponse.id))) == 0  # key released

    mode[0] = "run"
    first = console.post("/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "k"})
    repeat = console.post("/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "k"})

    assert first.status_code == 200 and repeat.json() == first.json()
    assert count_runs(console) == 1
    with console.services.store.read() as session:
        run_id = session.scalar(select(Run.id))
        stored = session.scalar(select(IdempotentResponse.body))
    assert first.json()["data"]["runID"] == run_id
    assert stored == first.json()


def test_a_run_and_its_answer_become_visible_together(
    seamed_console: tuple[Console, list[str]],
) -> None:
    console, mode = seamed_console
    mode[0] = "run"
    console.file_source()
    runs_before = count_runs(console)

    answered = console.post("/console/v1/ingestion/backfill", BACKFILL, **{"Idempotency-Key": "v"})

    assert answered.status_code == 200
    # Just before the answer was stored, no other connection could see the new run yet.
    assert mode[-1] == f"runs visible: {runs_before}"
    assert count_runs(console) == runs_before + 1
