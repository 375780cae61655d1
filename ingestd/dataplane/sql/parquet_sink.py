"""Stage a stream of Arrow record batches as one Parquet file, in bounded memory.

Batches are buffered up to about ``ROW_GROUP_ROWS`` rows (or ``ROW_GROUP_BYTES``) and written as
one row group, so memory holds at most one row group whatever the result's size. Types are kept
wherever Parquet and DuckDB hold them exactly (integers, floats, decimals up to 38 digits,
booleans, dates, times, timestamps with or without a time zone, binary, JSON, UUID, lists and
structs); a type they cannot hold exactly becomes text that the mapping's coercion reads
losslessly: decimals wider than 38 digits, intervals and durations, half floats widen to float.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestd.dataplane.sql.base import Extracted, SourceQuery, check_canceled, query_failed
from ingestd.domain.sources import DataFormat

ROW_GROUP_ROWS = 131_072
ROW_GROUP_BYTES = 64 << 20
_DUCKDB_MAX_DECIMAL_DIGITS = 38
_KEPT_EXTENSIONS = frozenset({"arrow.json", "arrow.uuid"})


def _text(array: pa.Array) -> pa.Array:
    """Values Parquet cannot hold exactly, as text (Python objects: only rare column types)."""
    typ = array.type
    if pa.types.is_decimal(typ):
        return array.cast(pa.string())
    if typ == pa.month_day_nano_interval():
        values = [
            None
            if v is None
            else f"{v.months} months {v.days} days {v.nanoseconds // 1000} microseconds"
            for v in array.to_pylist()
        ]
        return pa.array(values, pa.string())
    if pa.types.is_duration(typ):
        micros = array.cast(pa.duration("us")).cast(pa.int64()).to_pylist()
        return pa.array([None if v is None else f"{v} microseconds" for v in micros], pa.string())
    return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())


def _target_type(typ: pa.DataType) -> pa.DataType:
    """The type a column of ``typ`` is staged as."""
    if isinstance(typ, pa.ExtensionType):
        if typ.extension_name in _KEPT_EXTENSIONS:
            return typ
        return _target_type(typ.storage_type)
    if pa.types.is_decimal(typ) and typ.precision > _DUCKDB_MAX_DECIMAL_DIGITS:
        return pa.string()
    if pa.types.is_interval(typ) or pa.types.is_duration(typ):
        return pa.string()
    if pa.types.is_float16(typ):
        return pa.float32()
    if pa.types.is_string_view(typ):
        return pa.string()
    if pa.types.is_binary_view(typ):
        return pa.binary()
    return typ


def _convert(column: pa.Array, target: pa.DataType) -> pa.Array:
    typ = column.type
    if typ == target:
        return column
    if isinstance(typ, pa.ExtensionType) and typ.extension_name not in _KEPT_EXTENSIONS:
        return _convert(column.storage, target)
    if pa.types.is_string(target) and (
        pa.types.is_interval(typ) or pa.types.is_duration(typ) or pa.types.is_decimal(typ)
    ):
        return _text(column)
    return column.cast(target)


def _unique_names(names: Iterable[str]) -> list[str]:
    """Column names as the loader reads them: blanks named by position, repeats suffixed."""
    out: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        name = name or f"column{index}"
        if name in seen:
            name = f"{name}_{index}"
        seen.add(name)
        out.append(name)
    return out


def staged_schema(schema: pa.Schema) -> pa.Schema:
    """The Parquet schema a result of ``schema`` is staged with (see the module docstring)."""
    names = _unique_names(schema.names)
    return pa.schema(
        [pa.field(name, _target_type(f.type)) for name, f in zip(names, schema, strict=True)]
    )


class ParquetSink:
    """Write batches of one result to ``path``; ``close`` finishes the file (also when empty).

    Batches after the first may differ in type (drivers size numbers per chunk): they are cast
    to the first batch's staged schema, and a value that does not fit fails the query."""

    def __init__(self, query: SourceQuery, path: Path, schema: pa.Schema) -> None:
        self.query = query
        self.path = path
        self.source_schema = schema
        self.schema = staged_schema(schema)
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._writer = pq.ParquetWriter(str(path), self.schema)

    @property
    def full(self) -> bool:
        """The query's ``row_limit`` rows are staged: the reader stops reading."""
        limit = self.query.row_limit
        return limit is not None and self.rows >= limit

    def write(self, batch: pa.RecordBatch) -> None:
        check_canceled(self.query)
        if self.query.row_limit is not None:
            batch = batch.slice(0, max(0, self.query.row_limit - self.rows))
        if batch.num_rows == 0:
            return
        if len(batch.schema) != len(self.schema):
            raise query_failed(
                self.query,
                f"the result changed shape: {len(batch.schema)} columns after {len(self.schema)}",
            )
        try:
            columns = [
                _convert(column, f.type)
                for column, f in zip(batch.columns, self.schema, strict=True)
            ]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise query_failed(
                self.query, f"a result column cannot be staged as its first type ({exc})"
            ) from exc
        staged = pa.RecordBatch.from_arrays(columns, schema=self.schema)
        self._pending.append(staged)
        self._pending_rows += staged.num_rows
        self._pending_bytes += staged.nbytes
        self.rows += staged.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(
                pa.Table.from_batches(self._pending, schema=self.schema),
                row_group_size=max(self._pending_rows, 1),
            )
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def close(self) -> Extracted:
        self._flush()
        self._writer.close()
        # Arrow's pool (mimalloc) keeps what the extract freed for Arrow's own later use; the
        # load that follows allocates through DuckDB (malloc), which cannot reuse it. Given
        # back (about 25 MiB after a 20M-row extract), the unit peaked some 20 MiB lower
        # (docs/performance.md, "Memory of the whole unit at 20M").
        pa.default_memory_pool().release_unused()
        return Extracted(self.path, DataFormat.PARQUET, f"{self.query.connection}: query result")

    def abort(self) -> None:
        """Close the file after a failure (its content is discarded with the staging folder)."""
        self._pending = []
        self._writer.close()


def stage_batches(
    query: SourceQuery, target: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]
) -> Extracted:
    """Write ``batches`` (of ``schema``) to ``target`` through a ``ParquetSink``."""
    sink = ParquetSink(query, target, schema)
    try:
        for batch in batches:
            sink.write(batch)
            if sink.full:
                break  # a preview's rows are staged: read no further
    except BaseException:
        sink.abort()
        raise
    return sink.close()


def stage_stream(
    query: SourceQuery,
    target: Path,
    batches: Iterable[pa.RecordBatch],
    names_if_empty: Callable[[], Sequence[str]],
) -> Extracted:
    """Like ``stage_batches`` for drivers that give no schema before the first batch: the
    first batch's schema is the file's; a result without batches is staged as empty text
    columns named by ``names_if_empty``."""
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None:
        schema = pa.schema([(name, pa.string()) for name in names_if_empty()])
        return stage_batches(query, target, schema, ())
    return stage_batches(query, target, first.schema, itertools.chain([first], iterator))
