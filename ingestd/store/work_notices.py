"""Work notices between the processes of one PostgreSQL metadata database (LISTEN / NOTIFY).

A unit queued by one process (an API process of ``serve --api-processes``, another machine's
``serve``) is claimed by another: the one whose worker pool or dispatcher runs. Without a
notice that pool finds it at its next idle poll (0.5 s later), so a queued Kusto blob waited
for the poll again as soon as requests were answered by more than one process. ``notify``
sends one notice on the metadata database's channel; a ``WorkNoticeListener`` (one per process
that runs a pool or the dispatcher) hears it and wakes its process (``control.work_signal``).

A notice is a hint, never the record: the units are in the database before it is sent, and
a pool that misses one (its connection was down) still finds them at its next poll. So a
notice that cannot be sent is logged and dropped, and a listener that loses its connection
connects again, waking its process once when it does (notices sent meanwhile are lost).

SQLite metadata is one machine's and one process's: there the in-process signal is enough.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ingestd.store.database import Store

log = logging.getLogger("ingestd.store")

CHANNEL = "ingestd_work"
"""The notice channel. PostgreSQL scopes channels to a database: one per metadata database."""

KEEPALIVES = {"keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
"""The listener's client-side TCP keepalives: an idle LISTEN connection whose server vanished
is noticed in about 25 s (the leader lock's figures), not at the kernel's two hours."""


def notify(store: Store) -> None:
    """Tell every process listening on ``store``'s database that units were queued (nothing
    on SQLite). Failing to is logged, not raised: the units are committed already."""
    if store.is_sqlite:
        return
    try:
        with store.read() as session:  # autocommit: the notice goes out at once
            session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    except SQLAlchemyError:
        log.warning("could not send the work notice; other processes claim at their next poll")


class WorkNoticeListener:
    """A thread with a connection of its own that LISTENs on the channel and calls ``wake`` for
    every notice (and once on each connect, for what was queued while it was not listening)."""

    def __init__(
        self,
        store: Store,
        wake: Callable[[], None],
        *,
        poll_seconds: float = 0.5,
        retry_seconds: float = 1.0,
    ) -> None:
        """``poll_seconds``: how long a wait for notices lasts before it checks ``stop``;
        ``retry_seconds``: the pause before connecting again after a failure."""
        url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conninfo = make_conninfo(url, **KEEPALIVES)
        self._wake = wake
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()
        """Set while a connection is LISTENing (tests wait for it before they notify)."""
        self.backend_pid: int | None = None
        """The listening connection's server process (tests end it to test the reconnect)."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ingestd-work-notices", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self._listen()
                failing = False
            except psycopg.Error as exc:
                self.listening.clear()
                if not failing:  # once per outage, not once per retry
                    log.warning(
                        "lost the work notice connection to the metadata database (%s); "
                        "connecting again, units are claimed at the pools' polls meanwhile",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    )
                failing = True
                self._stop.wait(self._retry_seconds)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.backend_pid = conn.info.backend_pid
            self.listening.set()
            self._wake()  # anything queued before this connection listened
            while not self._stop.is_set():
                for _ in conn.notifies(timeout=self._poll_seconds):
                    self._wake()
        self.listening.clear()
