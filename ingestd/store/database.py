"""Engine, sessions and migrations of the metadata store (SQLite or PostgreSQL).

SQLite allows one writer at a time: writes go through a process-wide lock (and a long busy
timeout for other processes), so concurrent workers never see "database is locked".
PostgreSQL needs no such lock; its row-level conditional updates do the claiming.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ingestd.errors import InvalidInput
from ingestd.store.secret_box import SecretBox

MIGRATIONS = Path(__file__).parent / "migrations"


DEFAULT_POOL_SIZE = 20
DEFAULT_POOL_OVERFLOW = 20
"""PostgreSQL connections a process keeps open, and may open beyond them for a while
(INGESTD_DATABASE_POOL_SIZE, INGESTD_DATABASE_POOL_OVERFLOW)."""

MIGRATION_LOCK = 0x1D6E57D6
"""PostgreSQL advisory lock key that serialises migrations (beside the leader lock's)."""


class Store:
    """The metadata database. ``write()`` for changes, ``read()`` for queries.

    ``secret_box`` encrypts what the database keeps of secrets (connection secrets, blob URL
    credentials); a store opened without one can do everything but read or write a secret."""

    def __init__(
        self,
        url: str,
        secret_box: SecretBox | None = None,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_POOL_OVERFLOW,
    ) -> None:
        self.url = url
        self._secret_box = secret_box
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            # Connections beyond pool_size are opened for one checkout and closed on return:
            # a PostgreSQL backend forked per request once more requests than that are in
            # flight (the API's thread pool runs up to 40). Sized for a busy API process.
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = max_overflow
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except Exception as exc:
            raise InvalidInput(f"metadata database URL is not usable: {exc}") from exc
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL reads run in autocommit: at READ COMMITTED a transaction gives a read no
        # snapshot across its statements anyway (each statement takes its own), and without
        # one a read saves the BEGIN and the ROLLBACK, two round trips of every request.
        self._read_engine = (
            self.engine
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._read_sessions = (
            self._sessions
            if self.is_sqlite
            else sessionmaker(self._read_engine, expire_on_commit=False)
        )
        self._write_lock = threading.RLock() if self.is_sqlite else None

    @property
    def secret_box(self) -> SecretBox:
        if self._secret_box is None:
            raise InvalidInput(
                "this metadata store was opened without a secret key",
                hint="open it through Services, which reads INGESTD_SECRET_KEY or secret.key",
            )
        return self._secret_box

    def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._locked():
            with self.engine.begin() as connection:
                if self.engine.dialect.name == "postgresql":
                    # Processes of a cluster start together on one database: the first to
                    # get here migrates, the others wait (the lock ends with the transaction)
                    # and find nothing left to do.
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                before = MigrationContext.configure(connection).get_current_revision()
                config.attributes["connection"] = connection
                # 0006 encrypts the secrets earlier versions kept in plain text.
                config.attributes["secret_box"] = self._secret_box
                command.upgrade(config, "head")
                after = MigrationContext.configure(connection).get_current_revision()
            if before is not None and before != after and self.engine.dialect.name == "sqlite":
                # The WAL still holds the pages as they were before the upgrade (plain-text
                # secrets before 0006): fold it into the file, whose freed pages secure_delete
                # zeroes, and empty it. A checkpoint waits for other connections' locks.
                with self.engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
        else:
            with self._write_lock:
                yield

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose changes commit on success and roll back on any exception."""
        with self._locked(), self._sessions() as session:
            try:
                if self.is_sqlite:
                    # Take the write lock up front so readers-turned-writers cannot deadlock.
                    session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self, *, streaming: bool = False) -> Iterator[Session]:
        """A session for queries only. It must change nothing: on PostgreSQL it runs in
        autocommit, where a change would be kept statement by statement (``write()`` is
        for changes). ``streaming``: in a transaction, which the server-side cursor of a
        query read in batches (``yield_per``) needs on PostgreSQL."""
        with (self._sessions if streaming else self._read_sessions)() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection for a query only, as ``read()`` (autocommit on PostgreSQL), with
        no ORM session around it: for the statement every request runs (the key lookup), where
        the session's own work was a third of the query's CPU."""
        with self._read_engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def upsert_for(session: Session) -> Any:
    """The session's dialect's ``insert``, which has ``ON CONFLICT`` (both backends spell it
    alike): for the store's upserts."""
    return sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgres_insert


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so BEGIN IMMEDIATE is ours to issue.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    # Deleted and overwritten content is zeroed, so a replaced secret (or one 0006 encrypted)
    # does not linger in free pages of the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


__all__ = ["OperationalError", "Store"]
