"""read -> map and validate -> dedupe -> load, for one unit, exactly once.

1. Each input file is scanned and its records staged, coerced and checked, in file order, into a
   temporary table of the load's cursor (DuckDB spills it to disk past the memory budget).
   Records the reader cannot parse go to a quarantine stage with their line. Where the
   destination opens a row stream (PostgreSQL), the rows already known to be final go to it
   while later ones still stage (``rows_ahead``); step 4 then writes the rest.
2. The per-file error policy runs on the file's counts (continue, skip the file, abort).
3. Exact duplicates among the good rows are rejected (the first occurrence is kept); in upsert
   mode a key repeated within the load updates its earlier row.
4. One destination transaction (``destination.Destination``) matches upsert keys against the
   table (inserted versus updated), removes what this load key (or day) loaded before, inserts
   the rows, replaces the key's quarantined rows and writes the ledger entry with a fingerprint.

The counts must balance per file (``read = inserted + updated + rejected + errors``) or the unit
fails with ACCOUNTING_MISMATCH before anything commits. Should the destination refuse a value
that validation passed (``ValuesRefused``), the unit is loaded once more with the destination's
``unstorable`` checks, which quarantine such values like any other bad value.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Mapping as TypingMapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ingestd.dataplane import scratch
from ingestd.dataplane.contract import (
    CancelToken,
    Counts,
    FileResult,
    LoadRequest,
    LoadResult,
    Progress,
    ProgressCallback,
)
from ingestd.dataplane.destinations import ledger
from ingestd.dataplane.destinations.interface import (
    Destination,
    RowStream,
    StagedLoad,
    ValuesRefused,
)
from ingestd.dataplane.readers import gzip_judge, width
from ingestd.dataplane.readers import scan as scans
from ingestd.dataplane.readers.decompress import DecompressionLimits
from ingestd.dataplane.readers.files import LocalFile, prepare
from ingestd.dataplane.rows_ahead import RowidSpan, RowsAhead, staged_select
from ingestd.dataplane.transform.coerce import SQL_TYPES, sql_literal
from ingestd.dataplane.transform.compile import SEP, compile_select
from ingestd.domain.mapping import RefKind
from ingestd.domain.names import quote
from ingestd.domain.row_errors import CSV_REJECT_CODES, JSON_LINE_REJECT_CODES, RowError
from ingestd.domain.sources import Compression, DataFormat, LoadMode, OnError
from ingestd.errors import (
    AccountingMismatch,
    Canceled,
    EmptySource,
    ErrorLimitExceeded,
    InvalidInput,
    UnitError,
    WrongFormat,
)

log = logging.getLogger(__name__)

HASH_SLICE_ROWS = 2_500_000
"""Most rows whose hashes the duplicate search counts at once. At 20M rows one pass over all
hashes raised the peak RSS by about 70 MiB over the 5M-row load's; slices of up to 4M rows still
left DuckDB's hash table (and the process) larger at 20M than at 5M (2 slices of 2.5M rows), so
no slice is larger than the 5M load's (docs/performance.md, "Memory against input size")."""


BATCH_FILES = 1000
"""Most files one multi-file read takes (its SQL names each file)."""
BATCH_FILE_BYTES = 1 << 20
"""Largest file a multi-file read takes (uncompressed files only: a small gzip may hold far
more). A larger file costs far more than its few statements and is read on its own. DuckDB
reads a file within one buffer in one piece, so a small file's rows are staged in record
order; the rows of different files may come in any order, which is why record order is
always (_file, rowid)."""


@dataclass
class _Staged:
    file: LocalFile
    index: int


@dataclass(frozen=True)
class _Member:
    """A delimited file that a multi-file read may take with its neighbours: those whose
    ``key`` (format and header) is equal."""

    item: _Staged
    key: tuple[DataFormat, scans.CsvHeader]

    @property
    def header(self) -> scans.CsvHeader:
        return self.key[1]


class DataPlane:
    """Executes load requests against one destination (DuckDB or PostgreSQL)."""

    def __init__(
        self,
        warehouse: Destination,
        staging_root: Path,
        limits: DecompressionLimits | None = None,
        max_columns: int = width.DEFAULT_MAX_COLUMNS,
    ) -> None:
        self.warehouse = warehouse
        self.staging_root = staging_root
        self.limits = limits or DecompressionLimits()
        self.max_columns = max_columns
        removed = scratch.remove_orphans(staging_root)
        if removed:
            log.info("removed %d scratch folders left by stopped processes", len(removed))

    def load(
        self,
        request: LoadRequest,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> LoadResult:
        """Load the request's inputs; see the module docstring. Raises ``UnitError``."""
        if request.mode is LoadMode.UPSERT and not request.table.primary_key:
            raise InvalidInput(
                f"upsert into {request.table.qualified_name} needs a primary key",
                hint="declare the table's primary key or use append",
            )
        if request.mode is LoadMode.REPLACE_DAY and request.day is None:
            raise InvalidInput("replace_day needs the unit's day")
        cancel = cancel or CancelToken()
        staging = scratch.new_folder(self.staging_root, "unit")
        try:
            with self.warehouse.staging() as cur:
                remove_hook = cancel.on_cancel(cur.interrupt)
                try:
                    try:
                        return _Load(
                            self.warehouse,
                            cur,
                            request,
                            staging,
                            progress,
                            cancel,
                            self.limits,
                            self.max_columns,
                        ).run()
                    except ValuesRefused:
                        # Rare: checking every value against the destination's limits costs a
                        # scan with regular expressions, so it runs only once one was refused.
                        again = staging / "unstorable"
                        again.mkdir()
                        load = _Load(
                            self.warehouse,
                            cur,
                            request,
                            again,
                            progress,
                            cancel,
                            self.limits,
                            self.max_columns,
                        )
                        load.check_unstorable = True
                        return load.run()
                finally:
                    remove_hook()
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class Stager:
    """Reads input files into a staging table of typed rows, each with its error, and a
    quarantine stage of the records the reader refused: steps 1 of the module docstring, the
    one implementation of mapping, coercion and validation (a load and a preview use it)."""

    def __init__(
        self,
        cur: duckdb.DuckDBPyConnection,
        request: LoadRequest,
        staging: Path,
        progress: ProgressCallback | None,
        cancel: CancelToken,
        limits: DecompressionLimits,
        max_columns: int,
    ) -> None:
        self.limits = limits
        self.max_columns = max_columns
        self.cur = cur
        self.request = request
        self.table = request.table
        self.staging = staging
        self.progress = progress
        self.cancel = cancel
        suffix = uuid.uuid4().hex[:12]
        self.stage = f"_stage_{suffix}"
        self.qstage = f"_quarantine_{suffix}"
        self.columns = [quote(c.name) for c in self.table.columns]
        self.record_base: dict[int, int] | None = None
        """Per file, the rowid before its first staged row, when its rows' rowids are
        consecutive (they are, one INSERT per file, unless a multi-file read interleaved its
        files' rows): record numbers are then rowid arithmetic
        instead of a window over the whole stage."""
        self.rowid_spans: dict[int, RowidSpan] = {}
        """Per file, its staged rows' rowids (``rows_ahead`` finds the rows that waited by
        them)."""
        self.reads_source_location = any(
            ref.kind is RefKind.SOURCE_LOCATION
            for fm in request.mapping.fields
            for ref in ([r for _, r in fm.parts] if fm.parts else [fm.source] if fm.source else [])
        )
        """The mapping reads each file's name: each file then has a scan of its own."""
        self.scan_row_limit: int | None = None
        """Read at most this many records of each file (a preview of columnar files)."""
        self.stage_columns: list[tuple[str, str]] = []
        self.ahead: RowsAhead | None = None
        """Final rows sent to the destination while staging (``rows_ahead``), if it streams."""

    # -- helpers ------------------------------------------------------------------------------

    def _sql(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        if self.cancel.canceled:
            raise Canceled("the unit was canceled")
        try:
            return self.cur.execute(sql, params or [])
        except duckdb.InterruptException as exc:
            raise Canceled("the unit was canceled while loading") from exc

    def _one(self, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
        # fetchall, not fetchone: DuckDB 2 keeps a half-read result open, and the connection
        # then refuses register() (the Avro and ORC readers) until it is finished.
        rows = self._sql(sql, params).fetchall()
        return rows[0] if rows else None

    def _count(self, sql: str, params: list[Any] | None = None) -> int:
        row = self._one(sql, params)
        return int(row[0]) if row and row[0] is not None else 0

    def _report(self, files_done: int, phase: str) -> None:
        if self.progress is not None:
            rows = self._count(f"SELECT count(*) FROM {self.stage}")
            self.progress(Progress(files_done, len(self.request.inputs), rows, phase))

    # -- the steps ----------------------------------------------------------------------------

    def _by_file(self, sql: str) -> dict[int, int]:
        return {int(f): int(n) for f, n in self._sql(sql).fetchall()}

    def check_width(self) -> None:
        """Refuse a table too wide for the memory budget, before anything is created."""
        [budget] = self._one("SELECT current_setting('memory_limit')") or ("",)
        width.check_table(self.table, str(budget), self.max_columns)

    def create_stages(self, *, shared: bool = False) -> None:
        """The staging table (typed columns, ``_err``, ``_raw``, ``_h``) and the quarantine
        stage; the caller drops them (``drop_stages``). A ``shared`` stage is an ordinary table
        of the staging database, which other cursors can write to (a stream's staging does,
        ``rows_ahead``): only a destination whose staging database is its own private one
        opens a stream. The caller has checked the width (``check_width``)."""
        # A shared stage is filled from Arrow batches, where JSON is plain text: JSON columns
        # as VARCHAR (the same text; the row hash is taken before) are not parsed once more.
        self.stage_columns = [
            ("_file", "INTEGER"),
            *(
                (c.name, "VARCHAR" if shared and SQL_TYPES[c.type] == "JSON" else SQL_TYPES[c.type])
                for c in self.table.columns
            ),
            ("_err", "VARCHAR"),
            ("_raw", "VARCHAR"),
            ("_h", "UBIGINT"),
        ]
        types = ", ".join(f"{quote(name)} {kind}" for name, kind in self.stage_columns)
        self._sql(f"CREATE {'' if shared else 'TEMP '}TABLE {self.stage} ({types})")
        self._sql(
            f"CREATE TEMP TABLE {self.qstage} (_file INTEGER, line BIGINT, record BIGINT, "
            "column_name VARCHAR, code VARCHAR, message VARCHAR, raw VARCHAR)"
        )

    def drop_stages(self, *others: str) -> None:
        for name in (self.stage, self.qstage, *others):
            self.cur.execute(f"DROP TABLE IF EXISTS {name}")

    def stage_alone(self, file: LocalFile, index: int) -> int:
        """Stage one file by itself (never in a multi-file read) as the file numbered
        ``index``; the records it read (rows, good or bad, and the records the reader
        refused)."""
        if file.size > 0:
            self._stage_file(file, index)
        return self._count(
            f"SELECT (SELECT count(*) FROM {self.stage} WHERE _file = ?) "
            f"+ (SELECT count(*) FROM {self.qstage} WHERE _file = ?)",
            [index, index],
        )

    def locate_errors(self, files: list[LocalFile]) -> list[FileResult]:
        """After staging ``files`` (numbered by position): each file's counts, and the rows
        that failed typing or validation added to the quarantine stage with their record
        number."""
        return self._file_counts([_Staged(f, i) for i, f in enumerate(files)])

    def _stage_inputs(self) -> list[_Staged]:
        staged: list[_Staged] = []
        batch: list[_Member] = []
        """Delimited files in a row that share a header, not yet staged: read by one scan."""
        for path, name in zip(self.request.inputs, self.request.input_names, strict=True):
            for file in prepare(path, name, self.request.read_options, self.staging, self.limits):
                if file.size == 0 and self.request.empty_is_error:
                    raise EmptySource(f"{file.name} is empty (0 bytes)")
                item = _Staged(file, len(staged))
                staged.append(item)
                try:
                    member = self._batchable(item)
                except UnitError:
                    self._stage_batch(batch)  # the files before it fail first, as one by one
                    raise
                if member is not None:
                    if batch and (member.key != batch[0].key or len(batch) >= BATCH_FILES):
                        self._stage_batch(batch)
                        batch = []
                    batch.append(member)
                    continue
                self._stage_batch(batch)
                batch = []
                if file.size > 0:
                    self._stage_file(file, item.index)
                self._report(item.index + 1, "reading")
        self._stage_batch(batch)
        return staged

    def _batchable(self, item: _Staged) -> _Member | None:
        """The file as a member of a multi-file read, or None if it is read on its own: not
        delimited, empty, a header naming a virtual column of the multi-file read, or a
        mapping that reads the file's name (which one scan of several files cannot give); over
        ``BATCH_FILE_BYTES`` or compressed (gzip, which the reader decodes)."""
        file = item.file
        if (
            file.size == 0
            or file.size > BATCH_FILE_BYTES
            or file.compression is not Compression.NONE
            or not scans.is_delimited(file.format)
            or self.reads_source_location
        ):
            return None
        header = scans.csv_header(file, self.request.read_options, file.format)
        if header is None or scans.BATCH_VIRTUAL_COLUMNS.intersection(header.names):
            return None
        return _Member(item, (file.format, header))

    def _stage_batch(self, members: list[_Member]) -> None:
        """Stage files that share a header with one multi-file read (a fixed number of
        statements however many files), each row and reject keeping its own file's index.
        Should the read fail (a file with mixed line ends, bad bytes...), each half is read
        again, down to single files, which take the one-file path and its exact errors."""
        if not members:
            return
        if len(members) == 1:
            [only] = members
            self._stage_file(only.item.file, only.item.index)
            self._report(only.item.index + 1, "reading")
            return
        files = [m.item.file for m in members]
        scan = scans.csv_files_scan(
            files, self.request.read_options, members[0].header, uuid.uuid4().hex[:12]
        )
        indexes = "[" + ", ".join(str(m.item.index) for m in members) + "]"
        try:
            try:
                # file_index counts from 0, DuckDB lists from 1.
                self._insert_scan(
                    scan,
                    members[0].item.index,
                    translate=False,
                    file_sql=f"{indexes}[CAST(s.file_index AS BIGINT) + 1]",
                )
                failed = False
            except duckdb.Error as exc:
                log.info(
                    "a multi-file read of %d files failed, reading them again in halves: %s",
                    len(members),
                    scans.first_line_of(exc),
                )
                failed = True  # nothing of the failed statement is staged
            if not failed:
                self._stage_batch_rejects(scan, files, indexes)
        finally:
            scans.drop_rejects(self.cur, scan)
        if failed:
            half = len(members) // 2
            self._stage_batch(members[:half])
            self._stage_batch(members[half:])
            return
        if self.ahead is not None and self.ahead.active:
            self.ahead.note_staged(self.cur, self.stage, [m.item.index for m in members])
        self._check_batch_readable(members)

    def _stage_batch_rejects(self, scan: scans.Scan, files: list[LocalFile], indexes: str) -> None:
        """``_stage_reader_rejects`` for a multi-file read: the rejects scan names each
        reject's file."""
        cases = " ".join(
            f"WHEN {sql_literal(kind)} THEN {sql_literal(code.value)}"
            for kind, code in CSV_REJECT_CODES.items()
        )
        paths = "[" + ", ".join(sql_literal(str(f.path)) for f in files) + "]"
        self._sql(
            f"INSERT INTO {self.qstage} SELECT {indexes}[list_position({paths}, f.file_path)], "
            f"r.line, NULL, r.column_name, CASE CAST(r.error_type AS VARCHAR) {cases} "
            f"ELSE {sql_literal(RowError.UNPARSEABLE_RECORD.value)} END, r.error_message, "
            f"r.csv_line FROM {scan.rejects_table} r JOIN {scan.rejects_table}_scan f "
            "ON r.scan_id = f.scan_id AND r.file_id = f.file_id "
            "QUALIFY row_number() OVER (PARTITION BY r.scan_id, r.file_id, r.line "
            "ORDER BY r.byte_position) = 1 ORDER BY 1, r.line"
        )

    def _check_batch_readable(self, members: list[_Member]) -> None:
        """``_check_readable`` for the files of one multi-file read, and their progress."""
        indexes = ", ".join(str(m.item.index) for m in members)
        parsed = self._by_file(
            f"SELECT _file, count(*) FROM {self.stage} WHERE _file IN ({indexes}) GROUP BY _file"
        )
        rejected = self._by_file(
            f"SELECT _file, count(*) FROM {self.qstage} WHERE _file IN ({indexes}) GROUP BY _file"
        )
        for m in members:
            if parsed.get(m.item.index, 0) == 0 and rejected.get(m.item.index, 0) > 0:
                raise _unreadable(m.item.file, rejected[m.item.index])
        if self.progress is None:
            return
        rows = self._count(f"SELECT count(*) FROM {self.stage}") - sum(parsed.values())
        for m in members:
            rows += parsed.get(m.item.index, 0)
            self.progress(Progress(m.item.index + 1, len(self.request.inputs), rows, "reading"))
            if self.cancel.canceled:
                raise Canceled("the unit was canceled")

    def _stage_file(self, file: LocalFile, index: int) -> None:
        # A gzip file's limits are judged while DuckDB decodes it (the fallbacks below decode
        # it again without a meter: the block ends only once the file is judged).
        partial = self.scan_row_limit is not None
        with gzip_judge.judged_beside(file, self.cur.interrupt, partial=partial):
            self._read_file(file, index)

    def _read_file(self, file: LocalFile, index: int) -> None:
        fmt = file.format
        scan_id = uuid.uuid4().hex[:12]
        if scans.is_delimited(fmt):
            scan = scans.csv_scan(file, self.request.read_options, fmt, scan_id)
            if scan is None:
                if self.request.empty_is_error:
                    raise EmptySource(f"{file.name} holds no data once decompressed")
                return
            try:
                try:
                    self._insert_scan(scan, index, translate=False)
                except duckdb.Error as exc:
                    # The strict reader refuses a file whose records end in a mix of CRLF, LF
                    # and CR: read it again with LF ends (nothing of the failed read is staged).
                    rewritten = scans.with_lf_line_ends(
                        file, self.request.read_options, self.staging / f"lf_{scan_id}"
                    )
                    if rewritten is None:
                        raise scans.translate(exc, file.name) from exc
                    scans.drop_rejects(self.cur, scan)
                    again = scans.csv_scan(rewritten, self.request.read_options, fmt, scan_id)
                    if again is None:  # cannot be: it holds the bytes the first read had
                        raise scans.translate(exc, file.name) from exc
                    scan = again
                    self._insert_scan(scan, index)
                self._stage_reader_rejects(scan, index, CSV_REJECT_CODES)
            finally:
                scans.drop_rejects(self.cur, scan)
        elif fmt in (DataFormat.JSON, DataFormat.MULTIJSON):
            fields = scans.json_fields(self.table, self.request.mapping)
            scan = scans.json_scan(file, fmt, fields)
            try:
                self._insert_scan(scan, index, translate=False)
            except duckdb.Error as exc:
                self._sql(f"DELETE FROM {self.stage} WHERE _file = ?", [index])
                if fmt is DataFormat.MULTIJSON:
                    # Elements that are not objects: redo it element by element.
                    if not self._stage_json_elements(file, index, fields, scan_id):
                        raise scans.translate(exc, file.name) from exc
                elif scans.needs_line_scan(exc):
                    # Bad lines: redo this file line by line to quarantine exactly those.
                    self._stage_json_lines(file, index, fields, scan_id)
                else:
                    raise scans.translate(exc, file.name) from exc
        elif fmt is DataFormat.PARQUET:
            scan = scans.parquet_scan(file)
            scan.shape = scans.describe(self.cur, scan)
            self._insert_scan(scan, index)
        else:
            view = f"_arrow_{scan_id}"
            scan, reader = scans.arrow_scan(file, fmt, view)
            self.cur.register(view, reader)
            try:
                scan.shape = scans.describe(self.cur, scan)  # binds the schema; reads no batch
                self._insert_scan(scan, index)
            except UnitError:
                if scan.reader_failures:  # the reader's own error, not DuckDB's wrapping of it
                    failure = scan.reader_failures[0]
                    raise failure from failure.__cause__
                raise
            finally:
                self.cur.unregister(view)
        self._check_readable(file, index)

    def _insert_scan(
        self,
        scan: scans.Scan,
        index: int,
        *,
        translate: bool = True,
        file_sql: str | None = None,
    ) -> None:
        width.check_file(scan.shape.file_name, len(scan.shape.columns), self.max_columns)
        select = compile_select(
            self.table,
            self.request.mapping,
            scan.shape,
            file_index=index,
            scan_sql=(
                scan.sql
                if self.scan_row_limit is None
                else f"(SELECT * FROM {scan.sql} LIMIT {int(self.scan_row_limit)})"
            ),
            file_sql=file_sql,
        )
        rows = f"SELECT *, {self._row_hash('_err')} FROM ({select})"
        if self.ahead is not None and self.ahead.active and file_sql is None:
            if self.cancel.canceled:
                raise Canceled("the unit was canceled")
            streamed = self.ahead.stage(
                self.cur, self.stage, staged_select(rows, self.stage_columns), index
            )
            if streamed:
                return
            # The read failed: read it the ordinary way, whose error (or fallback) is the
            # read's, with the reader's rejects of the failed read gone.
            scans.drop_reject_tables(self.cur, scan)
        try:
            self._sql(f"INSERT INTO {self.stage} {rows}")
        except duckdb.Error as exc:
            if not translate:
                raise
            raise scans.translate(exc, scan.shape.file_name) from exc
        except pa.ArrowInvalid as exc:
            raise WrongFormat(f"{scan.shape.file_name}: {exc}") from exc

    def _stage_json_elements(
        self, file: LocalFile, index: int, fields: dict[str, str], scan_id: str
    ) -> bool:
        """Stage the objects of a multijson file and quarantine its other elements; False (and
        nothing staged) if every element is an object or the file cannot be read as elements."""
        elements = scans.json_elements_scan(self.cur, file, fields, scan_id)
        if elements is None:
            return False
        try:
            self._insert_scan(elements, index)
            self._sql(
                f"INSERT INTO {self.qstage} SELECT {index}, * "
                f"FROM ({scans.json_element_rejects(elements)})"
            )
        finally:
            scans.drop_rejects(self.cur, elements)
        return True

    def _stage_json_lines(
        self, file: LocalFile, index: int, fields: dict[str, str], scan_id: str
    ) -> None:
        lines = scans.json_lines_scan(self.cur, file, fields, scan_id)
        try:
            self._insert_scan(lines, index)
            self._sql(
                f"INSERT INTO {self.qstage} SELECT {index}, * "
                f"FROM ({scans.json_line_rejects(lines)})"
            )
            self._stage_reader_rejects(
                lines, index, JSON_LINE_REJECT_CODES, RowError.MALFORMED_JSON
            )
        finally:
            scans.drop_rejects(self.cur, lines)

    def _stage_reader_rejects(
        self,
        scan: scans.Scan,
        index: int,
        codes: TypingMapping[str, RowError],
        default: RowError = RowError.UNPARSEABLE_RECORD,
    ) -> None:
        """Quarantine the lines the reader refused, one row per line (its first error)."""
        cases = " ".join(
            f"WHEN {sql_literal(kind)} THEN {sql_literal(code.value)}"
            for kind, code in codes.items()
        )
        self._sql(
            f"INSERT INTO {self.qstage} SELECT ?, line, NULL, column_name, "
            f"CASE CAST(error_type AS VARCHAR) {cases} ELSE {sql_literal(default.value)} END, "
            f"error_message, csv_line FROM {scan.rejects_table} "
            "QUALIFY row_number() OVER (PARTITION BY line ORDER BY byte_position) = 1 "
            "ORDER BY line",
            [index],
        )

    def _check_readable(self, file: LocalFile, index: int) -> None:
        parsed = self._count(f"SELECT count(*) FROM {self.stage} WHERE _file = ?", [index])
        rejected = self._count(f"SELECT count(*) FROM {self.qstage} WHERE _file = ?", [index])
        if parsed == 0 and rejected > 0:
            raise _unreadable(file, rejected)

    def _file_counts(self, staged: list[_Staged]) -> list[FileResult]:
        parsed: dict[int, tuple[int, int]] = {}
        self.rowid_spans = {}
        for f, n, bad, first, last in self._sql(
            f"SELECT _file, count(*), count(_err), min(rowid), max(rowid) FROM {self.stage} "
            "GROUP BY _file"
        ).fetchall():
            parsed[int(f)] = (int(n), int(bad))
            self.rowid_spans[int(f)] = RowidSpan(int(first), int(last), int(n))
        spans = self.rowid_spans.values()
        self.record_base = (
            {f: span.first - 1 for f, span in self.rowid_spans.items()}
            if all(span.consecutive for span in spans)
            else None
        )
        rejects = dict(
            (int(f), int(n))
            for f, n in self._sql(
                f"SELECT _file, count(*) FROM {self.qstage} GROUP BY _file"
            ).fetchall()
        )
        out = []
        for item in staged:
            n, bad = parsed.get(item.index, (0, 0))
            parse_errors = rejects.get(item.index, 0)
            counts = Counts(read=n + parse_errors, errors=bad + parse_errors)
            out.append(FileResult(item.file.name, counts))
        # Typing and rule errors join the quarantine stage, located by record number: the n-th
        # record the reader returned for the file (rowids follow file order).
        if any(bad for _, bad in parsed.values()):
            self._sql(
                f"INSERT INTO {self.qstage} SELECT _file, NULL, record, "
                f"split_part(_err, '{SEP}', 2), split_part(_err, '{SEP}', 1), "
                f"split_part(_err, '{SEP}', 3), _raw FROM ({self._numbered('_err IS NOT NULL')})"
            )
        return out

    def _numbered(self, where: str) -> str:
        """The stage's rows matching ``where``, each with its record number in its file."""
        if self.record_base:
            record = (
                "rowid - CASE _file "
                + " ".join(f"WHEN {f} THEN {base}" for f, base in self.record_base.items())
                + " END"
            )
            return f"SELECT *, {record} AS record FROM {self.stage} WHERE {where}"
        # Not consecutive (never seen; DuckDB does not promise it): number by window.
        return (
            f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY _file ORDER BY rowid) "
            f"AS record FROM {self.stage}) WHERE {where}"
        )

    def _row_hash(self, err: str) -> str:
        """The row's hash over its typed columns (NULL for bad rows): equal rows hash equally,
        so only equal hashes need the exact comparison, and their sum is the fingerprint (the
        same as ``ledger.fingerprint_sql`` over the loaded table)."""
        typed = ", ".join(
            f"CAST({quote(c.name)} AS {SQL_TYPES[c.type]})" for c in self.table.columns
        )
        return f"CASE WHEN {err} IS NULL THEN hash({typed}) END"


class _Load(Stager):
    def __init__(
        self,
        warehouse: Destination,
        cur: duckdb.DuckDBPyConnection,
        request: LoadRequest,
        staging: Path,
        progress: ProgressCallback | None,
        cancel: CancelToken,
        limits: DecompressionLimits,
        max_columns: int,
    ) -> None:
        super().__init__(cur, request, staging, progress, cancel, limits, max_columns)
        self.warehouse = warehouse
        suffix = self.stage.removeprefix("_stage_")
        self.dups = f"_dups_{suffix}"
        self.shared = f"_shared_hashes_{suffix}"
        self.superseded = f"_superseded_{suffix}"
        self.waiting = f"_waiting_{suffix}"
        self.has_duplicates = False
        self.superseded_rows = 0
        self.check_unstorable = False
        """Quarantine the values the destination cannot store (after a ``ValuesRefused``)."""

    def run(self) -> LoadResult:
        self.check_width()
        self.warehouse.ensure_table(self.table)
        with self._row_stream() as stream:
            self.ahead = None if stream is None else RowsAhead(stream, self.table, self.waiting)
            self.create_stages(shared=stream is not None)
            try:
                staged = self._stage_inputs()
                if self.check_unstorable:
                    self._quarantine_unstorable()
                files = self._file_counts(staged)
                self._apply_policy(staged, files)
                self._dedupe(files)
                fingerprint = self._fingerprint()
                total = self._commit(files, fingerprint)
                return LoadResult(self.request.load_key, files, total, fingerprint)
            finally:
                self.drop_stages(self.dups, self.shared, self.superseded, self.waiting)

    def _row_stream(self) -> AbstractContextManager[RowStream | None]:
        """The destination's stream of final rows while staging, where nothing staged can be
        dropped later but by dedupe (``rows_ahead``): not with the skip_file policy (a file's
        rows go to the quarantine once counted) nor the unstorable check (rows turn bad after
        staging); the destination declines upsert and replays."""
        policy = self.request.error_policy.on_error
        if self.check_unstorable or policy is OnError.SKIP_FILE:
            return nullcontext(None)
        return self.warehouse.row_stream(self.request)

    def _apply_policy(self, staged: list[_Staged], files: list[FileResult]) -> None:
        policy = self.request.error_policy
        if policy.on_error is OnError.CONTINUE:
            return
        for item, result in zip(staged, files, strict=True):
            if result.counts.errors == 0:
                continue
            if policy.on_error is OnError.ABORT:
                first = self._one(
                    f"SELECT line, record, column_name, code, message FROM {self.qstage} "
                    "WHERE _file = ? ORDER BY line NULLS LAST, record LIMIT 1",
                    [item.index],
                )
                where = _location(first)
                raise ErrorLimitExceeded(
                    f"{result.name}: {result.counts.errors} bad rows; the error policy aborts "
                    f"the unit at the first one ({where})",
                    hint="fix the file, or use on_error=continue to quarantine bad rows",
                )
            if policy.file_is_over_limit(result.counts.read, result.counts.errors):
                self._skip_file(item, result)

    def _skip_file(self, item: _Staged, result: FileResult) -> None:
        # Keep the file's good rows too, so nothing is lost and a replay can load them.
        values = ", ".join(f"{c} := {c}" for c in self.columns)
        self._sql(
            f"INSERT INTO {self.qstage} SELECT _file, NULL, record, NULL, ?, ?, "
            f"CAST(to_json(struct_pack({values})) AS VARCHAR) "
            f"FROM ({self._numbered(f'_file = {item.index} AND _err IS NULL')})",
            [
                RowError.FILE_SKIPPED.value,
                f"the file had {result.counts.errors} bad rows, over the error policy's limit",
            ],
        )
        self._sql(f"DELETE FROM {self.stage} WHERE _file = ?", [item.index])
        result.counts.errors = result.counts.read
        result.skipped = True

    def _quarantine_unstorable(self) -> None:
        """Mark good rows holding a value the destination cannot store as bad, with the typed
        row as their raw record (as for a skipped file's rows)."""
        checks = [
            (column, found)
            for column in self.table.columns
            if (found := self.warehouse.unstorable(column, quote(column.name))) is not None
        ]
        if not checks:
            return
        cases = " ".join(
            f"WHEN {found.predicate} THEN "
            + sql_literal(f"{RowError.TYPE_MISMATCH.value}{SEP}{column.name}{SEP}")
            + f" || 'value ' || left(CAST({quote(column.name)} AS VARCHAR), 80) || "
            + sql_literal(f" cannot be stored: {found.reason}")
            for column, found in checks
        )
        values = ", ".join(f"{c} := {c}" for c in self.columns)
        self._sql(
            f"UPDATE {self.stage} SET _err = CASE {cases} END, "
            f"_raw = CAST(to_json(struct_pack({values})) AS VARCHAR), _h = NULL "
            f"WHERE _err IS NULL AND ({' OR '.join(found.predicate for _, found in checks)})"
        )

    def _good(self) -> str:
        rows = f"{self.stage} WHERE _err IS NULL"
        if self.has_duplicates:
            rows += f" AND rowid NOT IN (SELECT r FROM {self.dups})"
        return rows

    def _dedupe(self, files: list[FileResult]) -> None:
        """Count rejected duplicates; upsert: rows whose key repeats later in the load update
        (the destination adds the rows whose key it holds already)."""
        columns = ", ".join(self.columns)
        self._sql(f"CREATE TEMP TABLE {self.dups} (r BIGINT, _file INTEGER)")
        # Equal rows hash equally: only rows sharing a hash (duplicates, and the rare unequal
        # rows that collide) are compared column by column, the first occurrence kept. The
        # hashes are counted a slice at a time (equal rows fall in one slice), so the hash
        # table stays the same size however many rows the load has.
        good_rows = self._count(f"SELECT count(*) FROM {self.stage} WHERE _err IS NULL")
        slices = max(1, -(-good_rows // HASH_SLICE_ROWS))
        self._sql(f"CREATE TEMP TABLE {self.shared} (_h UBIGINT)")
        for part in range(slices):
            self._sql(
                f"INSERT INTO {self.shared} SELECT _h FROM {self.stage} "
                f"WHERE _err IS NULL AND _h % {slices} = {part} GROUP BY _h HAVING count(*) > 1"
            )
        self._sql(
            f"INSERT INTO {self.dups} SELECT rowid, _file FROM {self.stage} "
            f"WHERE _err IS NULL AND _h IN (SELECT _h FROM {self.shared}) "
            # File order, then record order: a multi-file read stages its files' rows in
            # whatever order its threads finish them (each file's own rows stay in order).
            f"QUALIFY row_number() OVER (PARTITION BY {columns} ORDER BY _file, rowid) > 1"
        )
        self.has_duplicates = self._count(f"SELECT count(*) FROM {self.dups}") > 0
        rejected = self._by_file(f"SELECT _file, count(*) FROM {self.dups} GROUP BY _file")
        good = self._by_file(f"SELECT _file, count(*) FROM {self._good()} GROUP BY _file")
        repeats = self._supersede() if self.request.mode is LoadMode.UPSERT else {}
        for index, result in enumerate(files):
            if result.skipped:
                continue
            result.counts.rejected = rejected.get(index, 0)
            result.counts.updated = repeats.get(index, 0)
            result.counts.inserted = good.get(index, 0) - result.counts.updated

    def _supersede(self) -> dict[int, int]:
        """Upsert: rows whose key repeats later in this load, per file (the last row wins)."""
        keys = [quote(k) for k in self.table.primary_key]
        key = ", ".join(keys)
        # Only keys that repeat are ordered (a hash aggregate finds them; sorting every row by
        # key costs far more). Key columns are required, so never NULL in good rows.
        same_key = " AND ".join(f"g.{k} = repeated.{k}" for k in keys)
        self._sql(
            f"CREATE TEMP TABLE {self.superseded} AS SELECT g.rowid AS r, g._file "
            f"FROM (SELECT rowid, * FROM {self._good()}) g SEMI JOIN (SELECT {key} "
            f"FROM {self._good()} GROUP BY {key} HAVING count(*) > 1) repeated ON {same_key} "
            f"QUALIFY row_number() OVER (PARTITION BY {', '.join(f'g.{k}' for k in keys)} "
            "ORDER BY g._file DESC, g.rowid DESC) > 1"
        )
        repeats = self._by_file(f"SELECT _file, count(*) FROM {self.superseded} GROUP BY _file")
        self.superseded_rows = sum(repeats.values())
        return repeats

    def _final_rows(self) -> str:
        rows = self._good()
        if self.request.mode is LoadMode.UPSERT:
            rows += f" AND rowid NOT IN (SELECT r FROM {self.superseded})"
        return rows

    def _fingerprint(self) -> str:
        # The staged row hashes are those ledger.fingerprint_sql computes over the table.
        return ledger.fingerprint(
            self._one(
                f"SELECT count(*), CAST(coalesce(sum(_h), 0) AS VARCHAR) FROM {self._final_rows()}"
            )
        )

    def _quarantine_select(self, files: list[FileResult]) -> str:
        request = self.request
        names = (
            "CASE q._file "
            + " ".join(f"WHEN {i} THEN {sql_literal(f.name)}" for i, f in enumerate(files))
            + " END"
            if files
            else "CAST(NULL AS VARCHAR)"
        )
        constants = {
            "load_key": request.load_key,
            "unit_id": request.unit_id,
            "run_id": request.run_id,
            "table_name": self.table.qualified_name,
        }
        named = ", ".join(f"{sql_literal(v)} AS {k}" for k, v in constants.items())
        return (
            f"SELECT {named}, {names} AS file, line, record, column_name, code, message, raw "
            f"FROM {self.qstage} q ORDER BY _file, line NULLS LAST, record"
        )

    def _commit(self, files: list[FileResult], fingerprint: str) -> Counts:
        if self.cancel.canceled:
            raise Canceled("the unit was canceled before its commit; nothing was loaded")
        rows = self._final_rows()
        stream = None
        if self.ahead is not None and self.ahead.active:
            rest = self.ahead.rest_sql(self.rowid_spans)
            if rest is not None:
                rows += f" AND {rest}"
                stream = self.ahead.stream
                log.info(
                    "%s: %d final rows written while staging, the rest at the commit",
                    self.request.load_key,
                    self.ahead.sent,
                )
        load = StagedLoad(
            self.request,
            f"SELECT _file, {', '.join(self.columns)} FROM {rows}",
            self._quarantine_select(files),
            fingerprint,
            stream,
        )
        rows_read = sum(f.counts.read for f in files)

        def writing(rows_written: int) -> None:
            # No query on the cursor here: it may be streaming the rows being written.
            if self.progress is not None:
                done = len(self.request.inputs)
                self.progress(Progress(done, done, rows_read, "writing", rows_written))
            if self.cancel.canceled:
                raise Canceled("the unit was canceled while writing; nothing was loaded")

        with self.warehouse.transaction(self.cur, load, writing) as tx:
            if self.request.mode is LoadMode.UPSERT:
                for index, n in tx.existing_by_file().items():
                    files[index].counts.updated += n
                    files[index].counts.inserted -= n
            total = _balanced_total(files)
            inserted = tx.write(files, total)
            # Upsert: a key repeated within the load is written once (its last row).
            if inserted != total.inserted + total.updated - self.superseded_rows:
                raise AccountingMismatch(
                    f"inserted {inserted} rows but counted {total.inserted} inserted + "
                    f"{total.updated} updated",
                    hint="this is a bug in ingestd; nothing was committed",
                )
        return total


def _balanced_total(files: list[FileResult]) -> Counts:
    total = Counts()
    for result in files:
        c = result.counts
        if not c.balanced:
            raise AccountingMismatch(
                f"{result.name}: read {c.read} != inserted {c.inserted} + updated {c.updated} "
                f"+ rejected {c.rejected} + errors {c.errors}",
                hint="this is a bug in ingestd; nothing was committed",
            )
        total.add(c)
    return total


def _unreadable(file: LocalFile, rejected: int) -> WrongFormat:
    return WrongFormat(
        f"{file.name}: none of its {rejected} records could be read as {file.format.value}",
        hint="check the declared format, delimiter and encoding",
    )


def _location(row: tuple[Any, ...] | None) -> str:
    if row is None:
        return "unknown row"
    line, record, column, code, message = row
    where = f"line {line}" if line is not None else f"record {record}"
    if column:
        where += f", column {column}"
    return f"{where}: {code} {message}"
