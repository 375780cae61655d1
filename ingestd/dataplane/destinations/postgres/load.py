"""The write of one staged load into PostgreSQL, inside one PostgreSQL transaction.

Append and replace_day take the table's advisory lock, delete what the load key (or the day)
held and COPY the final rows straight into the table; when the load wrote while it staged
(``stream.py``), that was done before staging and the COPY is finished here. Upsert first
COPYs the rows into a temporary table (before the lock, so concurrent loads overlap there),
then, under the lock, counts which keys the table holds already (those rows update), deletes
them and inserts from the temporary table: the count and the write see the same table. Then
the quarantine rows (COPY) and the ledger entry (upsert on its key). Nothing is visible until
the commit; a killed loader's transaction rolls back and its lock goes with its connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import psycopg
from psycopg import sql

from ingestd.dataplane.contract import Counts, FileResult, LoadRequest
from ingestd.dataplane.destinations import ledger
from ingestd.dataplane.destinations.interface import (
    DAY,
    LOAD_KEY,
    QUARANTINE_COLUMNS,
    StagedLoad,
    WriteProgress,
    table_project,
)
from ingestd.dataplane.destinations.postgres import copy as postgres_copy
from ingestd.dataplane.destinations.postgres.schema import (
    LOCK_SQL,
    column_defs,
    mode_index,
    table_lock,
    target,
)
from ingestd.dataplane.transform.coerce import SQL_TYPES, sql_literal
from ingestd.domain.names import quote
from ingestd.domain.sources import LoadMode
from ingestd.errors import AccountingMismatch

if TYPE_CHECKING:
    from ingestd.dataplane.destinations.postgres.stream import PostgresRowStream

_ROWS = sql.Identifier("_ingestd_rows")
"""The upsert's temporary table (dropped at commit or rollback)."""


def _ids(names: list[str] | tuple[str, ...]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def take_lock(
    pg: psycopg.Connection[tuple[Any, ...]], request: LoadRequest, after_wait: Callable[[], None]
) -> None:
    """Take the request's table's write lock (waiting for another load that holds it), then
    make the index its mode deletes or matches by if missing."""
    pg.execute(sql.SQL(LOCK_SQL), [table_lock(request.table)])
    # The wait may have been long (another load held the table): a cancel that came
    # meanwhile stops the load here, before it writes.
    after_wait()
    ensure_mode_index(pg, request)


def ensure_mode_index(pg: psycopg.Connection[tuple[Any, ...]], request: LoadRequest) -> None:
    """Make the index the request's mode deletes or matches by, if missing (under the lock)."""
    name, create = mode_index(request.table, request.mode)
    [(exists,)] = pg.execute(sql.SQL("SELECT to_regclass(%s) IS NOT NULL"), [name]).fetchall()
    if not exists:
        pg.execute(create)


def clear_for(pg: psycopg.Connection[tuple[Any, ...]], request: LoadRequest) -> None:
    """Append and replace_day, under the lock, before their rows: delete what the load key
    (append) or the day (replace_day) held. A replay adds to what is there."""
    if request.replay_of:
        return
    value: object
    if request.mode is LoadMode.APPEND:
        column, value = LOAD_KEY, request.load_key
    elif request.mode is LoadMode.REPLACE_DAY:
        column, value = DAY, request.day
    else:
        return
    pg.execute(
        sql.SQL("DELETE FROM {} WHERE {} = %s").format(
            target(request.table), sql.Identifier(column)
        ),
        [value],
    )


class PostgresLoad:
    """Implements ``LoadTransaction`` on an open PostgreSQL transaction."""

    def __init__(
        self,
        pg: psycopg.Connection[tuple[Any, ...]],
        duck: duckdb.DuckDBPyConnection,
        load: StagedLoad,
        progress: WriteProgress,
        scratch: Path,
        stream: PostgresRowStream | None = None,
    ) -> None:
        self.pg = pg
        self.stream = stream
        """The transaction this load continues, opened before staging, or None."""
        self.duck = duck
        self.load = load
        self.progress = progress
        self.scratch = scratch
        self.table = load.table
        self.project = table_project(load.table)
        self.target = target(load.table)
        self.names = [c.name for c in load.table.columns]
        self.locked = False
        self.rows_staged = False
        self.written = 0
        """Rows written so far, as last told to ``progress``."""

    def _execute(
        self, query: sql.SQL | sql.Composed, params: list[Any] | None = None
    ) -> psycopg.Cursor[tuple[Any, ...]]:
        return self.pg.execute(query, params)

    def _report(self, written: int) -> None:
        """Tell ``progress`` (which raises if the unit was canceled: then nothing commits)."""
        self.written = written
        self.progress(written)

    def _lock(self) -> None:
        """Take the table's write lock, and make the index this mode deletes by if missing."""
        if self.locked:
            return
        take_lock(self.pg, self.load.request, lambda: self._report(self.written))
        self.locked = True

    def _stage_rows(self) -> None:
        """Upsert: the final rows, with their input index, in a temporary table."""
        if self.rows_staged:
            return
        self._execute(
            sql.SQL("CREATE TEMP TABLE {} (_file integer, {}) ON COMMIT DROP").format(
                _ROWS, column_defs(self.table)
            )
        )
        with self.pg.cursor() as cur:
            into = sql.SQL("{} (_file, {})").format(_ROWS, _ids(self.names))
            postgres_copy.copy_in(
                self.duck,
                self.load.rows_sql,
                cur,
                into,
                self._report,
                pg_types=self._pg_types(cur, _ROWS, ["_file", *self.names]),
            )
        # Statistics, so the key matching below is planned as a join on the right side.
        self._execute(sql.SQL("ANALYZE {}").format(_ROWS))
        self.rows_staged = True

    def _key_match(self) -> sql.Composed:
        return sql.SQL(" AND ").join(
            sql.SQL("t.{k} = s.{k}").format(k=sql.Identifier(k)) for k in self.table.primary_key
        )

    def existing_by_file(self) -> dict[int, int]:
        self._stage_rows()
        self._lock()
        rows = self._execute(
            sql.SQL(
                "SELECT s._file, count(*) FROM {} s WHERE EXISTS "
                "(SELECT 1 FROM {} t WHERE {}) GROUP BY s._file"
            ).format(_ROWS, self.target, self._key_match())
        ).fetchall()
        return {int(f): int(n) for f, n in rows}

    def write(self, files: list[FileResult], total: Counts) -> int:
        request = self.load.request
        replaying = bool(request.replay_of)
        if request.mode is LoadMode.UPSERT:
            self._stage_rows()
            self._lock()
            self._execute(
                sql.SQL("DELETE FROM {} t USING {} s WHERE {}").format(
                    self.target, _ROWS, self._key_match()
                )
            )
            inserted = self._execute(
                sql.SQL("INSERT INTO {} ({}, {}, {}) SELECT {}, %s, %s FROM {}").format(
                    self.target,
                    _ids(self.names),
                    sql.Identifier(LOAD_KEY),
                    sql.Identifier(DAY),
                    _ids(self.names),
                    _ROWS,
                ),
                [request.load_key, request.day],
            ).rowcount
            self._report(inserted)
        elif self.stream is not None:
            # Locked and cleared before staging (stream.open); most rows are sent already.
            inserted = self.stream.finish(self.duck, self._copy_select(), self._report)
        else:
            self._lock()
            clear_for(self.pg, request)
            inserted = self._copy_rows()
        self._write_quarantine()
        if replaying:
            self._add_replay(files, total)
        else:
            self._write_ledger(files, total)
        return int(inserted)

    def _copy_select(self) -> str:
        """DuckDB's SELECT of the rows to COPY: the final rows' columns, load key and day."""
        request = self.load.request
        day = f"DATE {sql_literal(request.day.isoformat())}" if request.day else "NULL::DATE"
        columns = ", ".join(quote(n) for n in self.names)
        return (
            f"SELECT {columns}, {sql_literal(request.load_key)}, {day} FROM ({self.load.rows_sql})"
        )

    def _copy_rows(self) -> int:
        select = self._copy_select()
        into = sql.SQL("{} ({}, {}, {})").format(
            self.target, _ids(self.names), sql.Identifier(LOAD_KEY), sql.Identifier(DAY)
        )
        with self.pg.cursor() as cur:
            types = self._pg_types(cur, self.target, [*self.names, LOAD_KEY, DAY])
            return postgres_copy.copy_in(self.duck, select, cur, into, self._report, pg_types=types)

    @staticmethod
    def _pg_types(
        cur: psycopg.Cursor[tuple[Any, ...]], table: sql.Composable, names: list[str]
    ) -> list[str | None]:
        """The PostgreSQL types of ``names`` in ``table``, as the binary COPY checks them."""
        types = postgres_copy.column_types(cur, table)
        return [types.get(n) for n in names]

    def _write_quarantine(self) -> None:
        request = self.load.request
        if request.replay_of:
            self._execute(
                sql.SQL("DELETE FROM _ingestd.quarantine WHERE project = %s AND id = ANY(%s)"),
                [self.project, list(request.replay_of)],
            )
        else:
            self._execute(
                sql.SQL("DELETE FROM _ingestd.quarantine WHERE project = %s AND load_key = %s"),
                [self.project, request.load_key],
            )
        # A raw record or message may hold a NUL character, which PostgreSQL text cannot:
        # keep the rest of it, with U+FFFD in its place.
        cleaned = ", ".join(
            f"replace({c}, chr(0), chr(65533))" if c in ("message", "raw") else c
            for c in QUARANTINE_COLUMNS
        )
        with self.pg.cursor() as cur:
            into = sql.SQL("_ingestd.quarantine (project, {})").format(_ids(QUARANTINE_COLUMNS))
            postgres_copy.copy_in(
                self.duck,
                f"SELECT {sql_literal(self.project)}, {cleaned} FROM ({self.load.quarantine_sql})",
                cur,
                into,
                lambda _: None,
            )

    def _write_ledger(self, files: list[FileResult], total: Counts) -> None:
        columns = ledger.LEDGER_COLUMNS
        values = ledger.entry_values(self.load, files, total)
        placeholders = [
            sql.SQL("%s::jsonb") if c in ("files", "tags") else sql.SQL("%s") for c in columns
        ]
        self._execute(
            sql.SQL(
                "INSERT INTO _ingestd.ledger ({}, loaded_at) "
                "VALUES ({}, now() AT TIME ZONE 'UTC') "
                "ON CONFLICT (project, load_key) DO UPDATE SET {}"
            ).format(
                _ids(columns),
                sql.SQL(", ").join(placeholders),
                sql.SQL(", ").join(
                    sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                    for c in (*columns[2:], "loaded_at")
                ),
            ),
            values,
        )

    def _add_replay(self, files: list[FileResult], total: Counts) -> None:
        request = self.load.request
        row = self._execute(
            sql.SQL(
                "SELECT files::text FROM _ingestd.ledger WHERE project = %s AND load_key = %s "
                "FOR UPDATE"
            ),
            [self.project, request.load_key],
        ).fetchone()
        if row is None:
            raise AccountingMismatch(
                f"no ledger entry for {request.load_key}: nothing to replay into",
                hint="rerun the unit instead",
            )
        self._execute(
            sql.SQL(
                "UPDATE _ingestd.ledger SET inserted = inserted + %s, updated = updated + %s, "
                "rejected = rejected + %s, errors = errors + %s, files = %s::jsonb, "
                "fingerprint = %s, loaded_at = now() AT TIME ZONE 'UTC' "
                "WHERE project = %s AND load_key = %s"
            ),
            [
                *ledger.replay_deltas(total),
                ledger.replayed_files(row[0], files),
                self._key_fingerprint(),
                self.project,
                request.load_key,
            ],
        )

    def _key_fingerprint(self) -> str:
        """The fingerprint of every row the load key now holds, as the DuckDB destination
        computes it: the rows come back through COPY and are hashed by DuckDB with their DuckDB
        types. (JSON values hash as jsonb prints them, which may differ from the text loaded.)"""
        request = self.load.request
        path = self.scratch / f"readback-{uuid.uuid4().hex}.csv"
        try:
            query = sql.SQL("SELECT {} FROM {} WHERE {} = {}").format(
                _ids(self.names),
                self.target,
                sql.Identifier(LOAD_KEY),
                sql.Literal(request.load_key),
            )
            with self.pg.cursor() as cur:
                if postgres_copy.copy_out(cur, query, path) == 0:
                    return ledger.fingerprint(None)
            columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(self.names)))
            typed = ", ".join(
                f"CAST(c{i} AS {SQL_TYPES[c.type]}) AS {quote(c.name)}"
                for i, c in enumerate(self.table.columns)
            )
            rows = self.duck.execute(
                f"SELECT {ledger.fingerprint_sql([quote(n) for n in self.names])} FROM "
                f"(SELECT {typed} FROM read_csv({sql_literal(str(path))}, header = false, "
                f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
                f"allow_quoted_nulls = false, columns = {{{columns}}}))"
            ).fetchall()
            return ledger.fingerprint(rows[0] if rows else None)
        finally:
            path.unlink(missing_ok=True)
