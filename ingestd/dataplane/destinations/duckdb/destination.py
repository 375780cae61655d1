"""The embedded DuckDB destination: user tables, the load ledger and the quarantine.

Loads stage in temporary tables of this database's own cursors and commit with one DuckDB
transaction. A DuckDB file has one writer: loads into one destination are serialised by a
process-wide lock, and each load runs in its own cursor (DuckDB parallelises inside a query).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ingestd.dataplane.contract import Counts, FileResult, LoadRequest
from ingestd.dataplane.destinations import layout, ledger
from ingestd.dataplane.destinations.interface import (
    DAY,
    LOAD_KEY,
    QUARANTINE_COLUMNS,
    RowStream,
    StagedLoad,
    Unstorable,
    WriteProgress,
    table_project,
    table_schema,
    table_sql,
)
from ingestd.dataplane.destinations.layout import LayoutDialect
from ingestd.dataplane.memory import duckdb_memory_limit
from ingestd.dataplane.transform.coerce import SQL_TYPES
from ingestd.domain.names import quote
from ingestd.domain.run_owners import RunOwnersSource
from ingestd.domain.sources import LoadMode
from ingestd.domain.tables import Column, TableSpec
from ingestd.errors import (
    AccountingMismatch,
    Canceled,
    DestinationBusy,
    DestinationError,
    InvalidInput,
    QueryTimedOut,
)

__all__ = ["DAY", "LOAD_KEY", "DuckDBDestination"]

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS _ingestd;
CREATE TABLE IF NOT EXISTS _ingestd.ledger (
    project VARCHAR NOT NULL, load_key VARCHAR NOT NULL, table_name VARCHAR NOT NULL,
    unit_id VARCHAR, run_id VARCHAR, mode VARCHAR, day DATE, fingerprint VARCHAR, files JSON,
    read BIGINT, inserted BIGINT, updated BIGINT, rejected BIGINT, errors BIGINT, tags JSON,
    loaded_at TIMESTAMP
);
CREATE SEQUENCE IF NOT EXISTS _ingestd.quarantine_id;
CREATE TABLE IF NOT EXISTS _ingestd.quarantine (
    id BIGINT DEFAULT nextval('_ingestd.quarantine_id'), project VARCHAR NOT NULL,
    load_key VARCHAR NOT NULL, unit_id VARCHAR, run_id VARCHAR, table_name VARCHAR NOT NULL,
    file VARCHAR, line BIGINT, record BIGINT, column_name VARCHAR, code VARCHAR NOT NULL,
    message VARCHAR, raw VARCHAR, quarantined_at TIMESTAMP
);
"""
"""Layout 2 (``layout`` module). The ledger's key is (project, load_key); DuckDB keeps no
index, as before: its scans are fast enough for the ledger's size."""

DIALECT = LayoutDialect(
    schema=_SCHEMA,
    text_type="VARCHAR",
    exists_sql="SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
    "AND schema_name = ? AND table_name = ?",
    bookkeeping_keys=(),
)


_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


_QUERY_DATA_ERRORS = (
    duckdb.OutOfRangeException,
    duckdb.ConversionException,
    duckdb.InvalidInputException,
)
"""Errors of a read query that its values cause (an overflow, a bad cast): the caller's."""


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


class DuckDBDestination:
    """One DuckDB destination file, opened once per process (implements ``Destination``)."""

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str,
        spill_dir: Path,
        owners: RunOwnersSource | None = None,
    ) -> None:
        """Open (or create) the file and give it the current layout; ``owners`` says which
        project each run belongs to, needed only to upgrade a file of the old layout."""
        self.path = path.resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        spill_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise DestinationBusy(
                f"the destination {self.path} is in use by another process ({exc})",
                hint="stop the other ingestd process, or send the work to it over its API",
            ) from exc
        self._con.execute(f"SET memory_limit = '{duckdb_memory_limit(memory_limit)}'")
        self._con.execute(f"SET temp_directory = '{spill_dir}'")
        self._con.execute("SET TimeZone = 'UTC'")
        self.write_lock = _lock_for(self.path)
        self._prepare(owners)

    def _prepare(self, owners: RunOwnersSource | None) -> None:
        """The layout, in one transaction: an upgrade that fails leaves the file as it was."""
        with self.cursor() as cur:

            def run(statement: str, params: list[Any]) -> list[tuple[Any, ...]]:
                return cur.execute(statement, params).fetchall()

            if layout.current(run, DIALECT):
                return
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    layout.prepare(run, DIALECT, owners)
                    cur.execute("COMMIT")
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
            except duckdb.Error as exc:
                raise DestinationError(
                    f"preparing the destination {self.path} failed: {exc}"
                ) from exc

    def close(self) -> None:
        self._con.close()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._con.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")
            yield cur
        finally:
            cur.close()

    @contextmanager
    def staging(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.write_lock, self.cursor() as cur:
            yield cur

    def ensure_table(self, table: TableSpec) -> None:
        target = self.table_sql(table)
        schema = table_schema(table)
        with self.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            existing = {
                str(row[0])
                for row in cur.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = ? AND table_name = ?",
                    [schema, table.name],
                ).fetchall()
            }
            if not existing:
                columns = ", ".join(f"{quote(c.name)} {SQL_TYPES[c.type]}" for c in table.columns)
                cur.execute(f"CREATE TABLE {target} ({columns}, {LOAD_KEY} VARCHAR, {DAY} DATE)")
                return
            for column in table.columns:
                if column.name not in existing:
                    cur.execute(
                        f"ALTER TABLE {target} ADD COLUMN {quote(column.name)} "
                        f"{SQL_TYPES[column.type]}"
                    )

    def unstorable(self, column: Column, value_sql: str) -> Unstorable | None:
        return None  # the staging types are this database's own

    def row_stream(self, request: LoadRequest) -> contextlib.nullcontext[RowStream | None]:
        # The staging cursor is the file's one writer: rows staged are written by the same
        # engine on the same cores, so there is nothing to overlap.
        return contextlib.nullcontext(None)

    @contextmanager
    def transaction(
        self, cur: duckdb.DuckDBPyConnection, load: StagedLoad, progress: WriteProgress
    ) -> Iterator[_DuckDBLoad]:
        target = self.table_sql(load.table)
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield _DuckDBLoad(cur, load, target, progress)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        except duckdb.InterruptException as exc:
            raise Canceled("the unit was canceled while writing; nothing was loaded") from exc
        except duckdb.Error as exc:
            raise DestinationError(f"writing to {target} failed: {exc}") from exc

    @staticmethod
    def table_sql(table: TableSpec) -> str:
        return table_sql(table)

    def table_exists(self, table: TableSpec) -> bool:
        return bool(
            self.query(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [table_schema(table), table.name],
            )
        )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read-only query (inspection, tests, the CLI)."""
        with self.cursor() as cur:
            try:
                return cur.execute(sql, params or []).fetchall()
            except duckdb.Error as exc:
                raise DestinationError(f"query on the destination failed: {exc}") from exc

    def bounded_query(
        self, sql: str, params: list[Any], *, timeout_seconds: float
    ) -> list[tuple[Any, ...]]:
        """See ``Destination.bounded_query``: DuckDB has no statement timeout, so a timer
        interrupts the cursor; the transaction is rolled back whatever happens (read only)."""
        with self.cursor() as cur:
            timer = threading.Timer(timeout_seconds, cur.interrupt)
            timer.daemon = True
            try:
                cur.execute("BEGIN TRANSACTION READ ONLY")
                timer.start()
                return cur.execute(sql, params).fetchall()
            except _QUERY_DATA_ERRORS as exc:
                raise InvalidInput(f"the query failed on a value: {exc}") from exc
            except duckdb.InterruptException as exc:
                raise QueryTimedOut(
                    f"the query ran longer than {timeout_seconds:g} seconds and was stopped",
                    hint="narrow it with where or take, or summarize",
                ) from exc
            except duckdb.Error as exc:
                raise DestinationError(f"query on the destination failed: {exc}") from exc
            finally:
                timer.cancel()
                # No transaction may be left to end (an interrupt ends it).
                with contextlib.suppress(duckdb.Error):
                    cur.execute("ROLLBACK")

    def ledger_entry(self, project: str, load_key: str) -> dict[str, Any] | None:
        with self.cursor() as cur:
            result = cur.execute(
                "SELECT * FROM _ingestd.ledger WHERE project = ? AND load_key = ?",
                [project, load_key],
            )
            names = [d[0] for d in result.description or []]
            rows = result.fetchall()
        return dict(zip(names, rows[0], strict=True)) if rows else None

    def tag_exists(self, table: TableSpec, tag: str, *, excluding_run: str | None = None) -> bool:
        rows = self.query(
            "SELECT 1 FROM _ingestd.ledger WHERE project = ? AND table_name = ? "
            "AND list_contains(CAST(tags AS VARCHAR[]), ?) "
            "AND (CAST(? AS VARCHAR) IS NULL OR run_id IS DISTINCT FROM ?) LIMIT 1",
            [table_project(table), table.qualified_name, tag, excluding_run, excluding_run],
        )
        return bool(rows)


class _DuckDBLoad:
    """The write of one staged load inside the staging cursor's transaction."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        load: StagedLoad,
        target: str,
        progress: WriteProgress,
    ) -> None:
        self.cur = cur
        self.progress = progress
        self.load = load
        self.target = target
        self.project = table_project(load.table)
        self.columns = ", ".join(quote(c.name) for c in load.table.columns)
        self.key = ", ".join(quote(k) for k in load.table.primary_key)

    def _sql(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.cur.execute(sql, params or []).fetchall()

    def existing_by_file(self) -> dict[int, int]:
        join = " AND ".join(f"t.{quote(k)} = g.{quote(k)}" for k in self.load.table.primary_key)
        rows = self._sql(
            f"SELECT g._file, count(*) FROM ({self.load.rows_sql}) g WHERE EXISTS "
            f"(SELECT 1 FROM {self.target} t WHERE {join}) GROUP BY g._file"
        )
        return {int(f): int(n) for f, n in rows}

    def write(self, files: list[FileResult], total: Counts) -> int:
        request = self.load.request
        replaying = bool(request.replay_of)
        if request.mode is LoadMode.APPEND and not replaying:
            self._sql(f"DELETE FROM {self.target} WHERE {LOAD_KEY} = ?", [request.load_key])
        elif request.mode is LoadMode.REPLACE_DAY and not replaying:
            self._sql(f"DELETE FROM {self.target} WHERE {DAY} = ?", [request.day])
        elif request.mode is LoadMode.UPSERT:
            self._sql(
                f"DELETE FROM {self.target} WHERE ({self.key}) IN "
                f"(SELECT ({self.key}) FROM ({self.load.rows_sql}))"
            )
        self.progress(0)
        [(inserted,)] = self._sql(
            f"INSERT INTO {self.target} ({self.columns}, {LOAD_KEY}, {DAY}) "
            f"SELECT {self.columns}, ?, ? FROM ({self.load.rows_sql})",
            [request.load_key, request.day],
        )
        self.progress(int(inserted))
        if replaying:
            self._sql(
                "DELETE FROM _ingestd.quarantine WHERE project = ? "
                "AND id IN (SELECT unnest(?::BIGINT[]))",
                [self.project, list(request.replay_of)],
            )
        else:
            self._sql(
                "DELETE FROM _ingestd.quarantine WHERE project = ? AND load_key = ?",
                [self.project, request.load_key],
            )
        names = ", ".join(QUARANTINE_COLUMNS)
        self._sql(
            f"INSERT INTO _ingestd.quarantine (project, {names}, quarantined_at) "
            f"SELECT ?, *, now() FROM ({self.load.quarantine_sql})",
            [self.project],
        )
        if replaying:
            self._add_replay(files, total)
        else:
            self._sql(
                "DELETE FROM _ingestd.ledger WHERE project = ? AND load_key = ?",
                [self.project, request.load_key],
            )
            values = ledger.entry_values(self.load, files, total)
            self._sql(
                f"INSERT INTO _ingestd.ledger ({', '.join(ledger.LEDGER_COLUMNS)}, loaded_at) "
                f"VALUES ({', '.join('?' for _ in values)}, now())",
                values,
            )
        return int(inserted)

    def _add_replay(self, files: list[FileResult], total: Counts) -> None:
        request = self.load.request
        rows = self._sql(
            "SELECT files FROM _ingestd.ledger WHERE project = ? AND load_key = ?",
            [self.project, request.load_key],
        )
        if not rows:
            raise AccountingMismatch(
                f"no ledger entry for {request.load_key}: nothing to replay into",
                hint="rerun the unit instead",
            )
        columns = [quote(c.name) for c in self.load.table.columns]
        [row] = self._sql(
            f"SELECT {ledger.fingerprint_sql(columns)} FROM {self.target} WHERE {LOAD_KEY} = ?",
            [request.load_key],
        )
        self._sql(
            "UPDATE _ingestd.ledger SET inserted = inserted + ?, updated = updated + ?, "
            "rejected = rejected + ?, errors = errors + ?, files = ?, fingerprint = ?, "
            "loaded_at = now() WHERE project = ? AND load_key = ?",
            [
                *ledger.replay_deltas(total),
                ledger.replayed_files(rows[0][0], files),
                ledger.fingerprint(row),
                self.project,
                request.load_key,
            ],
        )
