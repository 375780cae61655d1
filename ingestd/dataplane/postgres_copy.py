"""Rows between the staging DuckDB and PostgreSQL, through COPY, in bounded batches.

Into PostgreSQL: DuckDB streams the rows of a SELECT as Arrow record batches, Arrow's C++ CSV
writer encodes each batch and the bytes go to ``COPY ... FROM STDIN (FORMAT csv)``; no Python
object per row, and memory is bounded by one batch. PostgreSQL's parsing takes most of the time
(on the Events table about 4-5 s per million rows, against 0.8 s to read and encode them);
reading and encoding ahead in a thread, or sending from one (psycopg's queued writer), measured
no faster on two cores, so this stays one plain loop.

CSV rather than PostgreSQL's text format because CSV tells NULL (an unquoted empty field) from
the empty string (``""``) and takes text literally (no backslash escapes to add). Every value
Arrow writes reads back exactly: integers, doubles (shortest round-trip digits, ``nan``,
``inf``, ``-0``), booleans, ISO dates and timestamps with microseconds, JSON as text. Values
PostgreSQL cannot hold at all are the destination's ``unstorable`` values.

Out of PostgreSQL: ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` into a file that DuckDB reads.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow.csv as pacsv
from psycopg import sql

from ingestd.dataplane.destination import WriteProgress

BATCH_ROWS = 65_536
"""Rows per Arrow batch: large enough to amortise the per-batch calls, small enough that an
encoded batch stays around 10 MB."""

_CSV = pacsv.WriteOptions(include_header=False, batch_size=BATCH_ROWS, quoting_style="needed")


def copy_in(
    duck: duckdb.DuckDBPyConnection,
    select_sql: str,
    pg: psycopg.Cursor[Any],
    into: sql.Composable,
    progress: WriteProgress,
) -> int:
    """Stream the rows of DuckDB's ``select_sql`` into PostgreSQL ``COPY <into> FROM STDIN``
    (``into`` names the table and the columns, in the SELECT's order). Returns the number of
    rows PostgreSQL took. If anything fails (or ``progress`` raises), the COPY is aborted."""
    sent = 0
    # Closing the reader ends DuckDB's result even when the copy stops early (DuckDB refuses
    # the cursor's next query while a result is open).
    with (
        duck.sql(select_sql).to_arrow_reader(BATCH_ROWS) as reader,
        pg.copy(sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(into)) as copy,
    ):
        for batch in reader:
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, _CSV)
            copy.write(buffer.getbuffer())
            sent += batch.num_rows
            progress(sent)
    return int(pg.rowcount)


def copy_out(pg: psycopg.Cursor[Any], query: sql.Composable, path: Path) -> int:
    """Write the rows of PostgreSQL's ``query`` to ``path`` as CSV (NULL unquoted and empty,
    the empty string as ``""``). Returns the number of bytes written."""
    written = 0
    with (
        path.open("wb") as out,
        pg.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)) as copy,
    ):
        for block in copy:
            written += out.write(block)
    return written
