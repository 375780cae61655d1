"""The embedded DuckDB destination: user tables, the load ledger and the quarantine.

Every user table carries two bookkeeping columns, ``_ingestd_load_key`` and ``_ingestd_day``,
which make reruns replace instead of duplicate. The ledger (one row per load key, with a content
fingerprint) and the quarantine live in schema ``_ingestd`` of the same database, so a unit's
rows, its quarantined rows and its ledger entry commit in one transaction.

A DuckDB file has one writer: loads into one destination are serialised by a process-wide lock,
and each load runs in its own cursor (DuckDB parallelises inside a query).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from ingestd.dataplane.coerce import SQL_TYPES
from ingestd.domain.names import quote
from ingestd.domain.tables import TableSpec
from ingestd.errors import DestinationBusy, DestinationError

LOAD_KEY = "_ingestd_load_key"
DAY = "_ingestd_day"

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS _ingestd;
CREATE TABLE IF NOT EXISTS _ingestd.ledger (
    load_key VARCHAR NOT NULL, table_name VARCHAR NOT NULL, unit_id VARCHAR, run_id VARCHAR,
    mode VARCHAR, day DATE, fingerprint VARCHAR, files JSON, read BIGINT, inserted BIGINT,
    updated BIGINT, rejected BIGINT, errors BIGINT, tags JSON, loaded_at TIMESTAMP
);
CREATE SEQUENCE IF NOT EXISTS _ingestd.quarantine_id;
CREATE TABLE IF NOT EXISTS _ingestd.quarantine (
    id BIGINT DEFAULT nextval('_ingestd.quarantine_id'), load_key VARCHAR NOT NULL,
    unit_id VARCHAR, run_id VARCHAR, table_name VARCHAR NOT NULL, file VARCHAR, line BIGINT,
    record BIGINT, column_name VARCHAR, code VARCHAR NOT NULL, message VARCHAR, raw VARCHAR,
    quarantined_at TIMESTAMP
);
"""

_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(path, threading.Lock())


class Warehouse:
    """One DuckDB destination file, opened once per process."""

    def __init__(self, path: Path, *, memory_limit: str, spill_dir: Path) -> None:
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
        self._con.execute(f"SET memory_limit = '{memory_limit}'")
        self._con.execute(f"SET temp_directory = '{spill_dir}'")
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute(_SCHEMA)
        self.write_lock = _lock_for(self.path)

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

    def ensure_table(self, cur: duckdb.DuckDBPyConnection, table: TableSpec) -> None:
        """Create the table, or add the columns it lacks (never drops or retypes columns)."""
        target = self.table_sql(table)
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(table.namespace)}")
        existing = {
            str(row[0])
            for row in cur.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ?",
                [table.namespace, table.name],
            ).fetchall()
        }
        if not existing:
            columns = ", ".join(f"{quote(c.name)} {SQL_TYPES[c.type]}" for c in table.columns)
            cur.execute(f"CREATE TABLE {target} ({columns}, {LOAD_KEY} VARCHAR, {DAY} DATE)")
            return
        for column in table.columns:
            if column.name not in existing:
                cur.execute(
                    f"ALTER TABLE {target} ADD COLUMN {quote(column.name)} {SQL_TYPES[column.type]}"
                )

    @staticmethod
    def table_sql(table: TableSpec) -> str:
        return f"{quote(table.namespace)}.{quote(table.name)}"

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read-only query (inspection, tests, the CLI)."""
        with self.cursor() as cur:
            try:
                return cur.execute(sql, params or []).fetchall()
            except duckdb.Error as exc:
                raise DestinationError(f"query on the destination failed: {exc}") from exc

    def ledger_entry(self, load_key: str) -> dict[str, Any] | None:
        with self.cursor() as cur:
            result = cur.execute("SELECT * FROM _ingestd.ledger WHERE load_key = ?", [load_key])
            names = [d[0] for d in result.description or []]
            row = result.fetchone()
        return None if row is None else dict(zip(names, row, strict=True))

    def tag_exists(self, table_name: str, tag: str, *, excluding_run: str | None = None) -> bool:
        """Whether any committed load into the table carried ``tag`` (Kusto ingest-by tags);
        ``excluding_run`` leaves out the loads of that run (the blobs of one operation)."""
        rows = self.query(
            "SELECT 1 FROM _ingestd.ledger WHERE table_name = ? "
            "AND list_contains(CAST(tags AS VARCHAR[]), ?) "
            "AND (CAST(? AS VARCHAR) IS NULL OR run_id IS DISTINCT FROM ?) LIMIT 1",
            [table_name, tag, excluding_run, excluding_run],
        )
        return bool(rows)
