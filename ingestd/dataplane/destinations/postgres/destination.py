"""The PostgreSQL destination (``INGESTD_DESTINATION_URL=postgresql+psycopg://...``).

Loads read, validate, dedupe and count in a private in-memory DuckDB (same memory limit and
spill folder as the DuckDB destination; past the limit it spills), then commit to PostgreSQL in
one PostgreSQL transaction (``destinations.postgres.load``). Several processes may load into
one database: DDL and each table's writes are serialised by advisory locks, and staging runs in
parallel.
Tables and bookkeeping mirror the DuckDB destination (``destination`` module docstring).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import duckdb
import psycopg
from psycopg import sql
from psycopg.types.string import TextLoader

from ingestd.dataplane.contract import LoadRequest
from ingestd.dataplane.destinations import layout
from ingestd.dataplane.destinations.interface import (
    StagedLoad,
    Unstorable,
    ValuesRefused,
    WriteProgress,
    table_project,
    table_schema,
    table_sql,
)
from ingestd.dataplane.destinations.postgres.load import PostgresLoad
from ingestd.dataplane.destinations.postgres.schema import (
    DDL_LOCK,
    DIALECT,
    LOCK_SQL,
    PG_TYPES,
    create_table,
    target,
)
from ingestd.dataplane.destinations.postgres.stream import PostgresRowStream
from ingestd.dataplane.memory import duckdb_memory_limit
from ingestd.dataplane.transform.coerce import sql_literal
from ingestd.domain.run_owners import RunOwnersSource
from ingestd.domain.sources import LoadMode
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import (
    Canceled,
    DestinationError,
    DestinationRefused,
    InvalidInput,
    QueryTimedOut,
)

Connection = psycopg.Connection[tuple[Any, ...]]

_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_JSON_NOT_STRICT = r"[A-DF-Za-df-z]|,\s*[\]}]|[eE][+-]?0*[1-9][0-9]{4}"
"""Outside strings and true/false/null: a letter other than an exponent's (NaN, Infinity, which
DuckDB's JSON reader accepts), a trailing comma (accepted too), or an exponent of 10000 or more
(past PostgreSQL's numeric)."""
_JSON_NUL = r"(^|[^\\])(\\\\)*\\u0000"

_REFUSED_AT_CONNECT = (
    "authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "does not exist",  # FATAL: role "x" does not exist / database "x" does not exist
    "permission denied for database",
)
"""The server's words (libpq gives no SQLSTATE at connect) when it refuses the connection for
a reason a retry cannot fix; anything else at connect (refused, unreachable, too many
connections, starting up) may pass."""


def psycopg_conninfo(url: str) -> str:
    """libpq's URL for a settings URL (``postgresql+psycopg://`` is SQLAlchemy's spelling)."""
    return re.sub(r"^postgres(ql)?(\+psycopg)?://", "postgresql://", url)


_PASSWORDS = re.compile(r"://[^:/@]*:(?P<user_part>[^@]*)@|[?&]password=(?P<parameter>[^&]*)")
"""Where a URL holds a password: after the user name, or as libpq's ``password`` parameter."""


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return scrub(url, url)


def scrub(text: str, url: str) -> str:
    """``text`` with the password of ``url`` masked, as written and percent-decoded (libpq
    echoes parts of a connection string it cannot parse)."""
    for match in _PASSWORDS.finditer(url):
        secret = match.group("user_part") or match.group("parameter")
        if secret:
            for form in sorted({secret, unquote(secret)}, key=len, reverse=True):
                text = text.replace(form, "***")
    return text


def to_pyformat(query: str) -> str:
    """``?`` placeholders (DuckDB's, and ``Destination.query``'s) to psycopg's ``%s``; ``%``
    doubled. Quoted strings, quoted names and comments are left alone."""
    parts = re.split(r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/)""", query, flags=re.S)
    out = []
    for index, part in enumerate(parts):
        part = part.replace("%", "%%")
        out.append(part if index % 2 else part.replace("?", "%s"))
    return "".join(out)


class _Pool:
    """A few idle autocommit connections, reused; a connection in doubt is closed instead."""

    def __init__(self, conninfo: str, shown: str, size: int) -> None:
        self.conninfo = conninfo
        self.shown = shown
        self.size = size
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> Connection:
        leaked: DestinationError | DestinationRefused | None = None
        try:
            conn = psycopg.connect(
                self.conninfo,
                autocommit=True,
                # Which process this is, in pg_stat_activity (one destination, many workers).
                application_name=f"ingestd:{os.getpid()}",
                # COPY sends UTF-8 (Arrow's CSV): whatever the database's encoding, the server
                # must read it as UTF-8, or a LATIN1 database stores its bytes as Latin-1.
                client_encoding="utf8",
                # Floats print with their shortest exact digits whatever the server's default
                # (the values read back and fingerprinted must be the values loaded). No
                # statement or idle-in-transaction timeout, as pg_dump and pg_restore do: a
                # server's or a role's timeouts are meant for interactive queries, and a long
                # COPY or a wait for another load's table is this session's job.
                options="-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=1 "
                "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0",
            )
        except psycopg.Error as exc:
            detail = str(exc).strip()
            shown = scrub(detail, self.conninfo)
            refused = isinstance(exc, psycopg.ProgrammingError) or any(
                sign in detail for sign in _REFUSED_AT_CONNECT
            )
            error: DestinationError | DestinationRefused = (
                DestinationRefused if refused else DestinationError
            )(
                f"cannot connect to the PostgreSQL destination {self.shown}: {shown}",
                hint="check INGESTD_DESTINATION_URL"
                + ("" if refused else " and that the server is up"),
            )
            if shown == detail:
                raise error from exc
            leaked = error
        if leaked is not None:
            # Raised outside the handler: the driver's message, which holds the password, is
            # not even the error's context (which error reporters print).
            raise leaked
        # JSON comes back as text, as from DuckDB.
        for name in ("json", "jsonb"):
            conn.adapters.register_loader(name, TextLoader)
        return conn

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = self._connect()
        reusable = False
        try:
            yield conn
            reusable = True
        finally:
            idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            with self._lock:
                keep = reusable and idle and not conn.closed and len(self._idle) < self.size
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class PostgresDestination:
    """One PostgreSQL destination database (implements ``Destination``)."""

    def __init__(
        self,
        url: str,
        *,
        memory_limit: str,
        spill_dir: Path,
        pool_size: int = 4,
        owners: RunOwnersSource | None = None,
    ) -> None:
        """Connect and give the database the current layout; ``owners`` says which project
        each run belongs to, needed only to upgrade a database of the old layout."""
        self.url = redact(url)
        self.spill_dir = spill_dir
        spill_dir.mkdir(parents=True, exist_ok=True)
        self._pool = _Pool(psycopg_conninfo(url), self.url, pool_size)
        with self._writing("preparing the _ingestd schema"), self._pool.connection() as conn:

            def run(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
                cur = conn.execute(to_pyformat(statement), params)
                return cur.fetchall() if cur.description else []

            # The layout is current: no DDL, no lock, at every start.
            if not layout.current(run, DIALECT):
                with conn.transaction():
                    conn.execute(LOCK_SQL, [DDL_LOCK])
                    layout.prepare(run, DIALECT, owners)  # again: another process may have won
        # One in-memory DuckDB for every load's staging: loads share its memory limit, and
        # each load's temporary tables live in its own cursor.
        self._duck = duckdb.connect()
        self._duck.execute(
            f"SET memory_limit = '{duckdb_memory_limit(memory_limit, streams=True)}'"
        )
        self._duck.execute(f"SET temp_directory = {sql_literal(str(spill_dir))}")

    @contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.DataError as exc:
            raise ValuesRefused(
                f"PostgreSQL refused a value while {what}: {exc}",
                hint="ingestd quarantines values PostgreSQL cannot store; please report this one",
            ) from exc
        except duckdb.InterruptException as exc:
            raise Canceled("the unit was canceled while writing; nothing was loaded") from exc
        except (psycopg.errors.InsufficientPrivilege, psycopg.IntegrityError) as exc:
            raise DestinationRefused(
                f"{what} in {self.url} was refused: {exc}",
                hint="grant the destination's user the privilege, or relax the constraint",
            ) from exc
        except (psycopg.Error, duckdb.Error) as exc:
            raise DestinationError(f"{what} in {self.url} failed: {exc}") from exc

    def close(self) -> None:
        self._pool.close()
        self._duck.close()

    @contextmanager
    def staging(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._duck.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")
            yield cur
        finally:
            cur.close()

    def _columns(self, conn: Connection, table: TableSpec) -> set[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s",
            [table_schema(table), table.name],
        ).fetchall()
        return {str(r[0]) for r in rows}

    def ensure_table(self, table: TableSpec) -> None:
        wanted = {c.name for c in table.columns}
        with self._writing(f"creating {table.qualified_name}"), self._pool.connection() as conn:
            if wanted <= self._columns(conn, table):
                return
            with conn.transaction():
                conn.execute(LOCK_SQL, [DDL_LOCK])
                existing = self._columns(conn, table)  # again: another process may have won
                if not existing:
                    for statement in create_table(table):
                        conn.execute(statement)
                    return
                for column in table.columns:
                    if column.name not in existing:
                        conn.execute(
                            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                                target(table),
                                sql.Identifier(column.name),
                                sql.SQL(PG_TYPES[column.type]),
                            )
                        )

    def unstorable(self, column: Column, value_sql: str) -> Unstorable | None:
        match column.type:
            case ColumnType.STRING:
                return Unstorable(
                    f"contains({value_sql}, chr(0))", "PostgreSQL text cannot hold NUL characters"
                )
            case ColumnType.JSON:
                text = f"CAST({value_sql} AS VARCHAR)"
                outside = (
                    f"regexp_replace(regexp_replace({text}, {sql_literal(_JSON_STRING)}, '0', "
                    "'g'), 'true|false|null', '0', 'g')"
                )
                return Unstorable(
                    f"(regexp_matches({text}, {sql_literal(_JSON_NUL)}) "
                    f"OR regexp_matches({outside}, {sql_literal(_JSON_NOT_STRICT)}))",
                    "PostgreSQL jsonb takes strict JSON only: no NaN or Infinity, no trailing "
                    "commas, no \\u0000, exponents under 10000",
                )
            case ColumnType.DATE | ColumnType.TIMESTAMP:
                return Unstorable(
                    f"(NOT isfinite({value_sql}) OR year({value_sql}) < 1)",
                    "PostgreSQL is not given dates before the year 1 or infinite ones",
                )
            case _:
                return None

    @contextmanager
    def row_stream(self, request: LoadRequest) -> Iterator[PostgresRowStream | None]:
        # Upsert matches keys against the table under the lock once all is staged; a replay
        # adds to a ledger entry: both write only then.
        if request.mode not in (LoadMode.APPEND, LoadMode.REPLACE_DAY) or request.replay_of:
            yield None
            return
        what = f"writing to {request.table.qualified_name}"
        with self._pool.connection() as conn:
            stream = PostgresRowStream(conn, request, lambda: self._writing(what))
            with self._writing(what):
                opened = stream.open()
            if opened:
                try:
                    yield stream
                finally:
                    if not stream.committed:
                        stream.abandon()
                return
        yield None  # the table is busy: the connection goes back to the pool meanwhile

    @contextmanager
    def transaction(
        self, cur: duckdb.DuckDBPyConnection, load: StagedLoad, progress: WriteProgress
    ) -> Iterator[PostgresLoad]:
        stream = load.stream
        if isinstance(stream, PostgresRowStream) and stream.active:
            with self._writing(f"writing to {load.table.qualified_name}"):
                yield PostgresLoad(stream.conn, cur, load, progress, self.spill_dir, stream)
                stream.commit()
            return
        with (
            self._writing(f"writing to {load.table.qualified_name}"),
            self._pool.connection() as conn,
            conn.transaction(),
        ):
            yield PostgresLoad(conn, cur, load, progress, self.spill_dir)

    @staticmethod
    def table_sql(table: TableSpec) -> str:
        return table_sql(table)

    def table_exists(self, table: TableSpec) -> bool:
        rows = self.query("SELECT to_regclass(?) IS NOT NULL", [table_sql(table)])
        return bool(rows[0][0])

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read-only query; see ``Destination.query`` (``?`` placeholders)."""
        try:
            with self._pool.connection() as conn:
                cur = conn.execute(to_pyformat(sql), params) if params else conn.execute(sql)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise DestinationError(f"query on the destination failed: {exc}") from exc

    def bounded_query(
        self, sql: str, params: list[Any], *, timeout_seconds: float
    ) -> list[tuple[Any, ...]]:
        """See ``Destination.bounded_query``: a read-only transaction with a local
        ``statement_timeout``."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_seconds * 1000))}")
                cur = conn.execute(to_pyformat(sql), params)
                return cur.fetchall() if cur.description else []
        except psycopg.errors.DataError as exc:
            raise InvalidInput(f"the query failed on a value: {exc}") from exc
        except psycopg.errors.QueryCanceled as exc:
            raise QueryTimedOut(
                f"the query ran longer than {timeout_seconds:g} seconds and was stopped",
                hint="narrow it with where or take, or summarize",
            ) from exc
        except psycopg.Error as exc:
            raise DestinationError(f"query on the destination failed: {exc}") from exc

    def ledger_entry(self, project: str, load_key: str) -> dict[str, Any] | None:
        try:
            with self._pool.connection() as conn:
                cur = conn.execute(
                    "SELECT * FROM _ingestd.ledger WHERE project = %s AND load_key = %s",
                    [project, load_key],
                )
                names = [d.name for d in cur.description or []]
                row = cur.fetchone()
        except psycopg.Error as exc:
            raise DestinationError(f"reading the ledger failed: {exc}") from exc
        return None if row is None else dict(zip(names, row, strict=True))

    def tag_exists(self, table: TableSpec, tag: str, *, excluding_run: str | None = None) -> bool:
        rows = self.query(
            "SELECT 1 FROM _ingestd.ledger WHERE project = ? AND table_name = ? "
            "AND tags @> jsonb_build_array(CAST(? AS text)) "
            "AND (CAST(? AS text) IS NULL OR run_id IS DISTINCT FROM ?) LIMIT 1",
            [table_project(table), table.qualified_name, tag, excluding_run, excluding_run],
        )
        return bool(rows)
