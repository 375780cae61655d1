"""A preview: the first records of a load request's inputs, staged exactly as a load stages
them (``pipeline.Stager``: the same reading, mapping, coercion and validation), then read back
instead of committed.

It touches no destination: the stage lives in a DuckDB of its own in memory (spilling into the
preview's scratch folder), which is closed with the folder when the preview ends. Inputs are
cut to their first records before reading (``heads``), so a preview reads about as much as it
shows, whatever the size of the file; decompression runs under the load's limits.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ingestd.dataplane import scratch
from ingestd.dataplane.contract import CancelToken, LoadRequest
from ingestd.dataplane.memory import duckdb_memory_limit
from ingestd.dataplane.pipeline import Stager
from ingestd.dataplane.readers import width
from ingestd.dataplane.readers.decompress import DecompressionLimits
from ingestd.dataplane.readers.files import LocalFile
from ingestd.dataplane.readers.heads import COLUMNAR, Budget, heads
from ingestd.dataplane.readers.scan import csv_header, is_delimited
from ingestd.dataplane.transform.coerce import SQL_TYPES, sql_literal
from ingestd.domain.mapping import Mapping, RefKind
from ingestd.domain.names import quote
from ingestd.domain.previews import RAW_CHARS, PreviewColumn, PreviewError
from ingestd.domain.sources import DataFormat


@dataclass(frozen=True)
class StagedPreview:
    """What the first records of a request's inputs turn into."""

    columns: tuple[PreviewColumn, ...]
    rows: tuple[tuple[object, ...], ...]
    errors: tuple[PreviewError, ...]
    files: tuple[str, ...]
    rows_read: int
    truncated: bool


class Previewer:
    """Previews load requests; see the module docstring."""

    def __init__(
        self,
        staging_root: Path,
        limits: DecompressionLimits | None = None,
        max_columns: int = width.DEFAULT_MAX_COLUMNS,
        memory_limit: str = "512MB",
    ) -> None:
        self.staging_root = staging_root
        self.limits = limits or DecompressionLimits()
        self.max_columns = max_columns
        self.memory_limit = memory_limit

    def preview(
        self, request: LoadRequest, limit: int, cancel: CancelToken | None = None
    ) -> StagedPreview:
        """The first ``limit`` input records of ``request``: its typed rows and its errors
        (raises what a load of the request raises for an unreadable input)."""
        staging = scratch.new_folder(self.staging_root, "preview")
        con = duckdb.connect()
        try:
            con.execute(f"SET memory_limit = '{duckdb_memory_limit(self.memory_limit)}'")
            con.execute(f"SET temp_directory = {sql_literal(str(staging / 'spill'))}")
            con.execute("SET TimeZone = 'UTC'")
            stager = Stager(
                con,
                request,
                staging,
                None,
                cancel or CancelToken(),
                self.limits,
                self.max_columns,
            )
            stager.check_width()
            stager.create_stages()
            return _read(stager, request, limit, self.limits)
        finally:
            con.close()
            shutil.rmtree(staging, ignore_errors=True)


def _read(
    stager: Stager, request: LoadRequest, limit: int, limits: DecompressionLimits
) -> StagedPreview:
    budget = Budget(limit)
    files: list[LocalFile] = []
    for path, name in zip(request.inputs, request.input_names, strict=True):
        if budget.records <= 0:
            budget.more = True
            break
        for head in heads(path, name, request.read_options, stager.staging, budget, limits):
            wanted = stager.scan_row_limit = budget.records  # columnar files: the reader's LIMIT
            read = stager.stage_alone(head.file, len(files))
            files.append(head.file)
            budget.records -= read
            if head.cut or (
                head.file.format in COLUMNAR and read >= wanted and _has_more(head.file, read)
            ):
                budget.more = True
    stager.locate_errors(files)
    rows = _typed_rows(stager)
    errors = _errors(stager, files)
    rows_read = len(rows) + len(errors)
    truncated = budget.more
    if rows_read > limit:
        # Record ends were miscounted (a file whose lines end in CR alone): show the first
        # ``limit`` records all the same.
        rows = rows[: max(0, limit - len(errors))]
        errors = errors[:limit]
        rows_read, truncated = len(rows) + len(errors), True
    columns = tuple(PreviewColumn(c.name, SQL_TYPES[c.type]) for c in request.table.columns)
    return StagedPreview(columns, rows, errors, tuple(f.name for f in files), rows_read, truncated)


def _has_more(file: LocalFile, read: int) -> bool:
    """Whether a file read up to its limit (a text file's head is cut, so this is a columnar
    file) holds more than the ``read`` records."""
    if file.format is not DataFormat.PARQUET:
        return True  # Avro and ORC: counting would read the file
    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT sum(num_rows) FROM parquet_file_metadata(?)", [str(file.path)]
        ).fetchone()
    finally:
        con.close()
    return row is not None and row[0] is not None and int(row[0]) > read


def _typed_rows(stager: Stager) -> tuple[tuple[object, ...], ...]:
    columns = ", ".join(quote(c.name) for c in stager.table.columns)
    rows = stager.cur.execute(
        f"SELECT {columns} FROM {stager.stage} WHERE _err IS NULL ORDER BY _file, rowid"
    ).fetchall()
    return tuple(tuple(row) for row in rows)


def _errors(stager: Stager, files: list[LocalFile]) -> tuple[PreviewError, ...]:
    found: list[tuple[Any, ...]] = stager.cur.execute(
        f"SELECT _file, line, record, column_name, code, message, left(raw, {RAW_CHARS}) "
        f"FROM {stager.qstage} ORDER BY _file, coalesce(line, record), record NULLS FIRST"
    ).fetchall()
    headers: dict[int, tuple[str, ...]] = {}
    out = []
    for index, line, record, field, code, message, raw in found:
        file = files[int(index)]
        column = None
        if field is not None and is_delimited(file.format):
            if index not in headers:
                header = csv_header(file, stager.request.read_options, file.format)
                headers[index] = header.names if header is not None else ()
            column = _position(stager.request.mapping, str(field), headers[index])
        out.append(
            PreviewError(
                file=file.name,
                line=None if line is None else int(line),
                column=column,
                field=field,
                code=str(code),
                message=str(message),
                raw=raw,
                record=None if record is None else int(record),
            )
        )
    return tuple(out)


def _position(mapping: Mapping, field: str, header: tuple[str, ...]) -> int | None:
    """The 1-based position in a delimited file's records of what ``field`` names: a table
    column read from one file column (by name or ordinal), or a column of the file itself (the
    reader's refusals name those)."""
    source = mapping.for_target(field)
    if source is not None and source.source is not None and not source.parts:
        ref = source.source
        if ref.kind is RefKind.ORDINAL and ref.value is not None:
            return int(ref.value) + 1
        if ref.kind is RefKind.COLUMN and str(ref.value) in header:
            return header.index(str(ref.value)) + 1
    return header.index(field) + 1 if field in header else None
