"""Work notices across processes (store/work_notices.py): units queued where no pool runs (an
API process of ``serve --api-processes``, another machine) wake the pool that runs them at
once, over the PostgreSQL metadata database's LISTEN / NOTIFY.

Each test gives its two sides separate Services (separate engines, connections and signals),
as two processes have. Waits are bounded liveness checks, never timings: a missed notice would
leave the wait to run out (the pools' idle poll is not involved here at all).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.services import Services
from ingestd.store.database import Store
from ingestd.store.work_notices import WorkNoticeListener, notify
from tests.conftest import make_services

WAIT = 30.0
"""Seconds a notice may take to arrive before the test fails (it takes milliseconds)."""


class _Sleeper:
    """Stands for a worker pool: what ``wake`` does is all the signal sees of one."""

    def __init__(self) -> None:
        self.woken = threading.Event()
        self.count = 0

    def wake(self) -> None:
        self.count += 1
        self.woken.set()


@pytest.fixture
def two(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Services, Services]]:
    """The pool's process and the process that queues, on one metadata database."""
    runs = make_services(tmp_path / "runs", postgres_url)
    queues = make_services(tmp_path / "queues", postgres_url)
    yield runs, queues
    queues.close()
    runs.close()


def _listening(services: Services) -> WorkNoticeListener:
    listener = services.work_notices()
    assert listener is not None
    listener.start()
    assert listener.listening.wait(WAIT)
    return listener


def test_an_announcement_in_one_process_wakes_the_pool_of_another(
    two: tuple[Services, Services],
) -> None:
    runs, queues = two
    pool, queuer_pool = _Sleeper(), _Sleeper()
    runs.work_signal.subscribe(pool.wake)
    queues.work_signal.subscribe(queuer_pool.wake)
    listener = _listening(runs)
    try:
        assert pool.woken.wait(WAIT)  # the wake on connecting: what was queued before
        pool.woken.clear()
        queues.work_signal.announce()
        assert queuer_pool.count == 1  # its own process is woken directly, as before
        assert pool.woken.wait(WAIT)
    finally:
        listener.stop()
    assert not listener.listening.is_set()


def test_the_listener_connects_again_after_losing_its_connection_and_wakes_once_it_has(
    two: tuple[Services, Services], postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runs, queues = two
    pool = _Sleeper()
    runs.work_signal.subscribe(pool.wake)
    listener = _listening(runs)
    try:
        first = listener.backend_pid
        pool.woken.clear()
        listener.listening.clear()
        admin = postgres_url.replace("postgresql+psycopg://", "postgresql://")
        with caplog.at_level(logging.WARNING), psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", [first])
            assert listener.listening.wait(WAIT)
        assert listener.backend_pid != first
        assert pool.woken.wait(WAIT)  # the reconnect's wake: notices sent meanwhile are lost
        assert "lost the work notice connection" in caplog.text
        pool.woken.clear()
        queues.work_signal.announce()
        assert pool.woken.wait(WAIT)
    finally:
        listener.stop()


def test_serve_with_its_pool_listens_for_the_units_other_processes_queue(
    two: tuple[Services, Services],
) -> None:
    runs, queues = two
    pool = _Sleeper()
    runs.work_signal.subscribe(pool.wake)
    app = create_app(runs)  # background: the pool, the scheduler and now the listener
    with TestClient(app):
        # The lifespan's listener wakes once on connecting; then each announcement again.
        assert pool.woken.wait(WAIT)
        for _ in range(3):
            pool.woken.clear()
            queues.work_signal.announce()
            assert pool.woken.wait(WAIT)


def test_a_notice_that_cannot_be_sent_is_logged_and_the_announcement_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nowhere = Store("postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    try:
        with caplog.at_level(logging.WARNING, logger="ingestd.store"):
            notify(nowhere)  # port 1: nothing listens; the caller's units are committed
    finally:
        nowhere.dispose()
    assert "could not send the work notice" in caplog.text


def test_sqlite_metadata_has_no_listener_and_announces_in_its_process(
    services: Services,
) -> None:
    pool = _Sleeper()
    services.work_signal.subscribe(pool.wake)
    assert services.work_notices() is None
    services.work_signal.announce()
    assert pool.count == 1
