"""SQLite database files: the standard library's driver, in batches, values as text.

SQLite values are dynamically typed (one column may hold integers and text), so every value is
staged as its text and the mapping types it: integers and text as they are, floats as their
shortest exact repr, blobs as ``\\x`` and their hex digits. The file is opened read-only;
canceling interrupts the running statement.
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
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import ParquetSink
from ingestd.errors import UnitError

BATCH_ROWS = 50_000


def translate(query: SourceQuery, exc: sqlite3.Error, database: Path) -> UnitError:
    """sqlite3's errors: a file it cannot open is unreachable, anything else is the query's."""
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
        return unreachable(query, str(database), first_line(exc))
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
        con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise translate(query, exc, database) from exc
    try:
        with interruptible(query, con.interrupt):
            cursor = con.execute(query.sql)
            names = [d[0] for d in cursor.description or []]
            schema = pa.schema([(name, pa.string()) for name in names])
            sink = ParquetSink(query, target, schema)
            try:
                while rows := cursor.fetchmany(BATCH_ROWS):
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
