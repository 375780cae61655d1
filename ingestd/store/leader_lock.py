"""The scheduler's leader lock: a PostgreSQL session advisory lock on a connection of its own.

PostgreSQL holds a session lock for exactly as long as the session lives, so the lock is free
the moment the leader's process dies (its socket closes) and its backend ends; if the leader's
machine vanishes instead, the server notices through TCP keepalives (set on this connection:
idle 10 s, then 3 probes 5 s apart, so about 25 s). The holder checks the connection on every
tick and steps down when it is gone, so two leaders never act at once for longer than one tick.

SQLite metadata is one machine's: there, whoever asks leads (the DuckDB destination's file lock
already allows one ``serve`` per data directory).
"""

from __future__ import annotations

import logging
from contextlib import suppress

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from ingestd.store.database import Store

log = logging.getLogger("ingestd.leader")

LEADER_LOCK_KEY = 0x1D6E57D5
"""The advisory lock's key (one per metadata database: one scheduler per database)."""

KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class LeaderLock:
    def __init__(self, store: Store, key: int = LEADER_LOCK_KEY) -> None:
        self.store = store
        self.key = key
        self._connection: Connection | None = None
        self.shared = store.engine.dialect.name == "postgresql"
        """False: SQLite metadata, one machine; the lock is always held."""

    def hold(self) -> bool:
        """Hold the lock (taking it if it is free); False while another process holds it."""
        if not self.shared:
            return True
        if self._connection is not None:
            if self._alive(self._connection):
                return True
            log.warning("lost the metadata database connection that held the leader lock")
            self._drop()
        try:
            connection = self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError:
            log.warning("cannot reach the metadata database to take the leader lock")
            return False
        try:
            # The server's side of TCP keepalives, for this session only: how soon PostgreSQL
            # frees the lock of a leader whose machine vanished without closing its socket.
            for name, seconds in KEEPALIVES.items():
                connection.execute(text(f"SET {name} = {seconds}"))
            taken = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar_one()
        except SQLAlchemyError:
            connection.close()
            log.warning("taking the leader lock failed", exc_info=True)
            return False
        if not taken:
            connection.close()
            return False
        self._connection = connection
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except SQLAlchemyError:
            log.debug("releasing the leader lock failed; closing its connection frees it")
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(SQLAlchemyError):
                connection.invalidate()  # never back into the pool: it held a session lock
                connection.close()

    @staticmethod
    def _alive(connection: Connection) -> bool:
        try:
            connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True
