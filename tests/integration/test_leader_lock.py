"""One scheduler per metadata database: the PostgreSQL advisory lock that ``serve`` processes
take turns on. Held by one holder at a time, free when its process dies, taken over by the
next one to ask; on SQLite (one machine) whoever asks leads."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingestd.store.database import Store
from ingestd.store.leader_lock import LeaderLock

pytestmark = pytest.mark.postgres

HOLDER = """
import sys, time
from ingestd.store.database import Store
from ingestd.store.leader_lock import LeaderLock
lock = LeaderLock(Store(sys.argv[1]))
assert lock.hold()
print("held", flush=True)
time.sleep(600)
"""


def test_one_holder_at_a_time_and_the_next_takes_it_when_released(postgres_url: str) -> None:
    first, second = Store(postgres_url), Store(postgres_url)
    a, b = LeaderLock(first), LeaderLock(second)
    try:
        assert a.hold()
        assert a.hold()  # renewing is holding
        assert not b.hold()
        a.release()
        assert b.hold()
        assert not a.hold()
    finally:
        a.release()
        b.release()
        first.dispose()
        second.dispose()


def test_the_lock_is_free_as_soon_as_its_holder_is_killed(postgres_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, postgres_url], stdout=subprocess.PIPE, text=True
    )
    store = Store(postgres_url)
    follower = LeaderLock(store)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not follower.hold()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        # The backend ends when the socket closes; give the server a moment to notice.
        deadline = time.monotonic() + 10
        while not follower.hold():
            assert time.monotonic() < deadline, "the dead holder's lock was never freed"
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
        follower.release()
        store.dispose()


def test_a_holder_that_lost_its_connection_steps_down(postgres_url: str) -> None:
    store = Store(postgres_url)
    lock = LeaderLock(store)
    other = Store(postgres_url)
    try:
        assert lock.hold()
        with other.engine.connect() as conn:
            from sqlalchemy import text

            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND objid = :key AND granted"
                ),
                {"key": lock.key},
            )
            conn.commit()
        # The next tick finds the connection gone and takes the (now free) lock afresh.
        assert lock.hold()
        assert not LeaderLock(other).hold()
    finally:
        lock.release()
        store.dispose()
        other.dispose()


def test_on_sqlite_whoever_asks_leads(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'metadata.sqlite'}")
    try:
        assert LeaderLock(store).hold() and LeaderLock(store).hold()
    finally:
        store.dispose()
