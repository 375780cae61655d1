"""Rows of a text-protocol driver (values as the server's text) into typed Arrow batches.

Drivers such as PyMySQL and PyAthena receive every value as text. Converting each value to a
Python object and then to Arrow costs most of the read; instead the reader asks the driver for
the raw text and each column is cast once per batch, vectorised. Numbers and booleans are
typed (their text grammar always casts exactly); dates, times and timestamps keep the server's
text, which the mapping's coercion reads losslessly (a MySQL zero date then becomes one
quarantined row instead of failing the whole result); binary stays bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ingestd.dataplane.sql.base import SourceQuery, check_canceled, query_failed

BATCH_ROWS = 50_000
MAX_DECIMAL_DIGITS = 38


@dataclass(frozen=True)
class TextColumn:
    name: str
    type: pa.DataType
    """What the text becomes: ``pa.string()`` keeps it, ``pa.binary()`` for raw bytes."""


def decimal_type(precision: int | None, scale: int | None) -> pa.DataType:
    """A decimal of the server's precision and scale, or text when DuckDB cannot hold it."""
    if precision is None or scale is None or not 0 < precision <= MAX_DECIMAL_DIGITS:
        return pa.string()
    if not 0 <= scale <= precision:
        return pa.string()
    return pa.decimal128(precision, scale)


def schema_of(columns: Sequence[TextColumn]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in columns])


def to_batch(
    query: SourceQuery, columns: Sequence[TextColumn], rows: Sequence[Any]
) -> pa.RecordBatch:
    """One batch from rows of text (or bytes) values; NULLs are ``None``."""
    arrays = []
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        try:
            if pa.types.is_binary(column.type):
                arrays.append(pa.array(values, pa.binary()))
                continue
            text = pa.array(values, pa.string())
            arrays.append(text if pa.types.is_string(column.type) else text.cast(column.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise query_failed(
                query, f"column {column.name!r} holds a value that is not a {column.type} ({exc})"
            ) from exc
    return pa.RecordBatch.from_arrays(arrays, schema=schema_of(columns))


def cursor_rows(cursor: Any) -> Iterator[Sequence[Any]]:
    """A DB-API cursor's result, ``BATCH_ROWS`` rows at a time (``fetchmany``), until it ends."""
    while rows := cursor.fetchmany(BATCH_ROWS):
        yield rows


def batches(
    query: SourceQuery,
    columns: Sequence[TextColumn],
    fetch: Iterable[Sequence[Any]],
) -> Iterator[pa.RecordBatch]:
    """Batches from ``fetch`` (successive ``fetchmany`` results), checking for a cancel
    between them."""
    for rows in fetch:
        check_canceled(query)
        if rows:
            yield to_batch(query, columns, rows)
