"""Rows between the staging DuckDB and PostgreSQL, through COPY, in bounded batches.

Into PostgreSQL: DuckDB streams the rows of a SELECT as Arrow record batches, each batch is
encoded in C++ or Rust and the bytes go to ``COPY ... FROM STDIN``; no Python object per row,
and memory is bounded by one batch. PostgreSQL's parsing takes most of the time, so the format
is the one it parses fastest:

- Binary (``FORMAT binary``, encoded by pgpq) when every column's Arrow type is exactly the
  PostgreSQL column's type (binary input is not converted: an int8 sent to an integer column is
  an error, not a cast). On the Events table, 1M rows: the server's CPU 2.8 s against 3.6 s for
  CSV, the client's 0.46 s against 0.58 s (docs/performance.md). jsonb still parses its text.
- CSV (``FORMAT csv``, Arrow's writer) otherwise, e.g. a column an operator retyped by hand:
  the server converts text to whatever the column is. CSV rather than PostgreSQL's text format
  because CSV tells NULL (an unquoted empty field) from the empty string (``""``) and takes text
  literally. Every value Arrow writes reads back exactly: integers, doubles (shortest
  round-trip digits, ``nan``, ``inf``, ``-0``), booleans, ISO dates and timestamps with
  microseconds, JSON as text.

Both refuse the same values with a data error (NUL in text, non-strict JSON, out-of-range
dates), which the destination turns into its ``unstorable`` retry.

The batches are read and encoded ahead, in a thread (``_Encoded``), at most ``AHEAD_BATCHES``
of them, while this thread sends: PostgreSQL parses one batch while DuckDB selects and pgpq
encodes the next (DuckDB and pgpq's Rust run outside the GIL). In one loop the two took turns:
the socket's buffer holds a fraction of a batch, so the backend idled while the client made
the next. 1M Events rows, binary, paired against the one loop on the shared 2-core machine:
median 1.99 s against 2.23 s wall at load average 4 (every pair faster), 4.24 s against
4.36 s at load average 9 (4 of 6 pairs), for about 0.03 s more client CPU (the handoff);
the backend's CPU is the same (docs/performance.md).

Out of PostgreSQL: ``COPY (SELECT ...) TO STDOUT (FORMAT csv)`` into a file that DuckDB reads.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pgpq
import pgpq.encoders as pgpq_encoders
import pgpq.schema as pgpq_schema
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from ingestd.dataplane.destinations.interface import WriteProgress

BATCH_ROWS = 32_768
"""Rows per Arrow batch: large enough to amortise the per-batch calls (half of 65,536 measured
no more CPU), small enough that the three batches in flight (``AHEAD_BATCHES``) stay around
15 MB."""

CSV_OPTIONS = pacsv.WriteOptions(
    include_header=False, batch_size=BATCH_ROWS, quoting_style="needed"
)


_BINARY_TYPES: dict[str, str] = {
    "TEXT": "text",
    "INT8": "bigint",
    "INT4": "integer",
    "INT2": "smallint",
    "FLOAT8": "double precision",
    "FLOAT4": "real",
    "BOOL": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp without time zone",
}
"""pgpq's type for an Arrow type -> the PostgreSQL column type (``format_type``) that takes it."""

_STRINGS: dict[pa.DataType, type[Any]] = {
    pa.string(): pgpq_encoders.StringEncoderBuilder,
    pa.large_string(): pgpq_encoders.LargeStringEncoderBuilder,
    pa.string_view(): pgpq_encoders.StringViewEncoderBuilder,
}


def column_types(pg: psycopg.Cursor[Any], table: sql.Composable) -> dict[str, str]:
    """The table's columns and their types as ``format_type`` spells them (a temporary table
    is found too: ``regclass`` follows the search path, ``pg_temp`` included)."""
    rows = pg.execute(
        sql.SQL(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = {}::regclass AND attnum > 0 AND NOT attisdropped"
        ).format(sql.Literal(table.as_string(pg))),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def binary_encoder(
    schema: pa.Schema, pg_types: list[str | None]
) -> pgpq.ArrowToPostgresBinaryEncoder | None:
    """An encoder of ``schema``'s batches into PostgreSQL's binary COPY format for columns of
    ``pg_types`` (in the schema's order), or None if some Arrow type is not exactly what its
    column takes (then CSV, which the server converts)."""
    if len(schema) != len(pg_types):
        return None
    builders: dict[str, Any] = {}
    for field, pg_type in zip(schema, pg_types, strict=True):
        if field.name in builders or isinstance(field.type, pa.ExtensionType):
            return None  # pgpq names columns; an extension type it would not know
        if pg_type == "jsonb" and field.type in _STRINGS:
            builders[field.name] = _STRINGS[field.type].new_with_output(field, pgpq_schema.Jsonb())
            continue
        try:
            builder = pgpq.ArrowToPostgresBinaryEncoder.infer_encoder(field)
            inferred = pgpq.ArrowToPostgresBinaryEncoder.new_with_encoders(
                pa.schema([field]), {field.name: builder}
            ).schema()
        except RuntimeError:  # pgpq's error for a type it cannot encode
            return None
        # A zoned timestamp would be sent as UTC microseconds into a naive column: not taken.
        kind = inferred.columns[0].data_type.ddl()
        if _BINARY_TYPES.get(kind or "") != pg_type or (
            pa.types.is_timestamp(field.type)
            and (field.type.tz is not None or field.type.unit != "us")
        ):
            return None
        builders[field.name] = builder
    return pgpq.ArrowToPostgresBinaryEncoder.new_with_encoders(schema, builders)


def copy_in(
    duck: duckdb.DuckDBPyConnection,
    select_sql: str,
    pg: psycopg.Cursor[Any],
    into: sql.Composable,
    progress: WriteProgress,
    *,
    pg_types: list[str | None] | None = None,
) -> int:
    """Stream the rows of DuckDB's ``select_sql`` into PostgreSQL ``COPY <into> FROM STDIN``
    (``into`` names the table and the columns, in the SELECT's order). With ``pg_types`` (the
    PostgreSQL types of those columns, None for one not known), binary COPY when the SELECT's
    types match them, else CSV. Returns the number of rows PostgreSQL took. If anything fails
    (or ``progress`` raises), the COPY is aborted."""
    sent = 0
    # Closing the reader ends DuckDB's result even when the copy stops early (DuckDB refuses
    # the cursor's next query while a result is open); the encoding thread has ended by then.
    with duck.sql(select_sql).to_arrow_reader(BATCH_ROWS) as reader:
        encoder = None if pg_types is None else binary_encoder(reader.schema, pg_types)
        form = sql.SQL("csv" if encoder is None else "binary")
        with (
            pg.copy(sql.SQL("COPY {} FROM STDIN (FORMAT {})").format(into, form)) as copy,
            _Encoded(reader, encoder) as chunks,
        ):
            for rows, data in chunks:
                copy.write(data)
                if rows:
                    sent += rows
                    progress(sent)
    return int(pg.rowcount)


AHEAD_BATCHES = 1
"""Encoded batches waiting to be sent, at most. With the one being encoded and the one being
sent, three are in flight against one in a plain loop: two queued batches of 65,536 rows
measured 50 MiB more peak RSS at 5M rows, too close to the 1 GiB budget at 20M (issue 17 §2)."""

_END = (0, b"")
_PUT_SECONDS = 0.05
"""How long the encoder waits on a full queue before it looks whether it should stop."""


class _Encoded:
    """The COPY payload of a reader's batches, as ``(rows, bytes)``, encoded in a thread of its
    own up to ``AHEAD_BATCHES`` ahead of the consumer: the header and trailer of the binary
    format come with 0 rows. Leaving the ``with`` early (an error, a cancel raised by
    ``progress``) stops the thread before it returns; an error of the reader or encoder is
    raised in the consumer, as it was raised."""

    def __init__(
        self, reader: pa.RecordBatchReader, encoder: pgpq.ArrowToPostgresBinaryEncoder | None
    ) -> None:
        self.reader = reader
        self.encoder = encoder
        self.queue: queue.Queue[tuple[int, bytes | memoryview] | BaseException] = queue.Queue(
            AHEAD_BATCHES
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="copy-encode", daemon=True)

    def __enter__(self) -> Iterator[tuple[int, bytes | memoryview]]:
        self.thread.start()
        return self._chunks()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()  # a put waiting on a full queue sees it within its timeout
        self.thread.join()

    def _chunks(self) -> Iterator[tuple[int, bytes | memoryview]]:
        while True:
            item = self.queue.get()
            if isinstance(item, BaseException):
                raise item
            if item is _END:
                return
            yield item

    def _put(self, item: tuple[int, bytes | memoryview] | BaseException) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_PUT_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            encoder = self.encoder
            if encoder is not None and not self._put((0, encoder.write_header())):
                return
            for batch in self.reader:
                if encoder is not None:
                    data: bytes | memoryview = encoder.write_batch(batch)
                else:
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, CSV_OPTIONS)
                    data = buffer.getbuffer()
                if not self._put((batch.num_rows, data)):
                    return
            if encoder is not None and not self._put((0, encoder.finish())):
                return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - not handled: re-raised by the consumer
            self._put(exc)


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
