"""SQLite database files: the standard library's driver, in batches, values as text.

SQLite values are dynamically typed (one column may hold integers and text), so every value is
staged as its text and the mapping types it: integers and text as they are, floats as their
shortest exact repr, blobs as ``\\x`` and their hex digits. Canceling interrupts the running
statement.

The query runs in a sandbox: the file is opened read-only through a percent-encoded URI
(``mode=ro``, so a path cannot smuggle URI parameters), with ``PRAGMA query_only``, no attached
databases allowed (``SQLITE_LIMIT_ATTACHED`` 0), extension loading off, and an authorizer that
allows only what a SELECT needs (reading tables, functions other than ``load_extension``,
recursive CTEs): ``ATTACH``, ``VACUUM INTO``, writes, DDL, ``PRAGMA`` and transactions are
refused before they run, and so is more than one statement.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    check_canceled,
    database_file,
    first_line,
    interruptible,
    query_failed,
    refused_statement,
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import ParquetSink
from ingestd.errors import UnitError

BATCH_ROWS = 50_000

_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
_REFUSED_FUNCTIONS = frozenset(
    {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
)


def _authorize(
    action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
) -> int:
    """The authorizer of source connections: an allow-list of what a read-only SELECT does."""
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in _REFUSED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def open_sandboxed(database: Path) -> sqlite3.Connection:
    """``database`` opened read-only with the sandbox above (no other file can be opened)."""
    con = sqlite3.connect(
        f"{database.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
    )
    try:
        if hasattr(con, "enable_load_extension"):  # absent where Python's build has none
            con.enable_load_extension(False)
        con.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        con.execute("PRAGMA query_only = ON")
        con.execute("PRAGMA trusted_schema = OFF")
        con.set_authorizer(_authorize)
    except BaseException:
        con.close()
        raise
    return con


def translate(query: SourceQuery, exc: sqlite3.Error, database: Path) -> UnitError:
    """sqlite3's errors: a file it cannot open is unreachable, anything else is the query's."""
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
        return unreachable(query, str(database), first_line(exc))
    if isinstance(exc, sqlite3.ProgrammingError) and "one statement at a time" in str(exc):
        return refused_statement(query, "more than one statement")
    if isinstance(exc, sqlite3.DatabaseError) and "not authorized" in str(exc):
        return refused_statement(query, f"a statement SQLite's sandbox refused ({first_line(exc)})")
    return query_failed(query, first_line(exc))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    return repr(value) if isinstance(value, float) else str(value)


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    database = database_file(query)
    target = target_dir / "result.parquet"
    try:
        con = open_sandboxed(database)
    except sqlite3.Error as exc:
        raise translate(query, exc, database) from exc
    try:
        with interruptible(query, con.interrupt):
            cursor = con.execute(query.sql)
            names = [d[0] for d in cursor.description or []]
            schema = pa.schema([(name, pa.string()) for name in names])
            sink = ParquetSink(query, target, schema)
            try:
                # SQLite computes rows as they are fetched: a preview's few fetches are its LIMIT.
                size = min(BATCH_ROWS, query.row_limit or BATCH_ROWS)
                while not sink.full and (rows := cursor.fetchmany(size)):
                    check_canceled(query)
                    columns = [
                        pa.array([_text(row[i]) for row in rows], pa.string())
                        for i in range(len(names))
                    ]
                    sink.write(pa.RecordBatch.from_arrays(columns, schema=sink.schema))
            except BaseException:
                sink.abort()
                raise
            return sink.close()
    except sqlite3.Error as exc:
        raise translate(query, exc, database) from exc
    finally:
        con.close()
