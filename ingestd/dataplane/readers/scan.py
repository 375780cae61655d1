"""Scans: a file as a DuckDB table expression, read in file order under the memory budget.

CSV, JSON and Parquet use DuckDB's own streaming readers (the fastest here, research/
performance.md). Avro and ORC, which DuckDB cannot read offline, stream as Arrow record batches
that DuckDB scans. Records a reader cannot parse (ragged CSV rows, unclosed quotes, bad UTF-8,
malformed JSON lines) are collected in the scan's rejects with their line; content that is not
what it claims to be raises a ``UnitError`` with a precise code.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

import duckdb
import pyarrow as pa
import zstandard

from ingestd.dataplane.readers import line_ends
from ingestd.dataplane.readers.files import LocalFile
from ingestd.dataplane.transform.coerce import sql_literal
from ingestd.dataplane.transform.compile import SourceShape, json_path
from ingestd.domain.mapping import Mapping, RefKind
from ingestd.domain.row_errors import RowError
from ingestd.domain.sources import (
    DEFAULT_DELIMITERS,
    DELIMITED,
    Compression,
    DataFormat,
    ReadOptions,
)
from ingestd.domain.tables import ColumnType, TableSpec
from ingestd.errors import (
    CorruptCompression,
    FieldTooLarge,
    InvalidEncoding,
    MappingMissing,
    UnitError,
    WrongFormat,
)

MAX_RECORD_BYTES = 8 << 20
"""Records (CSV lines, JSON lines) longer than this are quarantined as RECORD_TOO_LARGE; DuckDB's
JSON reader may hold NDJSON records up to a few times larger, which then load."""
ARROW_BATCH_ROWS = 65_536
# Python's csv module (which reads a file's first record) refuses fields over 128 KiB, a
# process-wide limit: raise it to ours, so a long header field is judged by MAX_RECORD_BYTES.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))
_SNIFF_BYTES = 64 << 10
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}
_BLANK = "' ' || chr(9) || chr(13)"
"""Characters of a blank line (a CRLF file's lines end in a carriage return)."""
_JSON_FIELD_SEPARATOR = "\x1f"  # never raw inside valid JSON (control characters are escaped)


@dataclass
class Scan:
    sql: str
    shape: SourceShape
    rejects_table: str | None = None
    """CSV: DuckDB table that collects this scan's unparseable lines (with their file line)."""
    arrow_views: list[str] = field(default_factory=list)
    temp_tables: list[str] = field(default_factory=list)
    """Tables the scan created; ``drop_rejects`` drops them."""
    reader_failures: list[UnitError] = field(default_factory=list)
    """Arrow scans: the error the reader raised while DuckDB pulled its batches (DuckDB wraps
    it in its own error; the pipeline raises this one instead)."""


def _compression_arg(file: LocalFile) -> str:
    return {
        Compression.GZIP: "gzip",
        Compression.ZSTD: "zstd",
    }.get(file.compression, "none")


@contextmanager
def _byte_stream(file: LocalFile) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed; closes everything it opened."""
    with file.path.open("rb") as raw:
        if file.compression is Compression.GZIP:
            import gzip

            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield cast(BinaryIO, unzipped)
        elif file.compression is Compression.ZSTD:
            with zstandard.ZstdDecompressor().stream_reader(raw, closefd=False) as unzstd:
                yield cast(BinaryIO, unzstd)
        else:
            yield raw


def _decoded_lines(head: bytes, stream: BinaryIO, encoding: str) -> Iterator[str]:
    """Text lines of ``head`` and then the rest of ``stream``, decoded one line's bytes at a
    time: a bad byte further on does not spoil the lines before it."""
    decoder = codecs.getincrementaldecoder(encoding)()
    pending = ""
    rest = iter(lambda: stream.readline(_SNIFF_BYTES), b"")
    for chunk in itertools.chain(io.BytesIO(head), rest):
        pending += decoder.decode(chunk)
        while (end := _line_end(pending)) >= 0:
            if end >= MAX_RECORD_BYTES:
                break
            yield pending[: end + 1]
            pending = pending[end + 1 :]
        if len(pending) > MAX_RECORD_BYTES:
            raise FieldTooLarge(f"the first record is longer than {MAX_RECORD_BYTES} bytes")
    pending += decoder.decode(b"", final=True)
    while (end := _line_end(pending)) >= 0:
        yield pending[: end + 1]
        pending = pending[end + 1 :]
    if pending:
        yield pending


def _line_end(text: str) -> int:
    """Index of the last character of the first line ending (LF, CRLF or a lone CR, as in
    universal newlines) in ``text``, or -1. A CR at the very end waits for more text: it may be
    the first half of a CRLF."""
    lf, cr = text.find("\n"), text.find("\r")
    if cr < 0 or (0 <= lf < cr):
        return lf
    if cr + 1 < len(text):
        return cr + 1 if text[cr + 1] == "\n" else cr
    return -1


def _first_record(file: LocalFile, options: ReadOptions, delimiter: str) -> list[str] | None:
    """The first CSV record, parsed with the file's own dialect (None when the file, once
    decompressed, holds no bytes). Binary content is refused as the wrong format."""
    try:
        wide = codecs.lookup(options.encoding).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        raise InvalidEncoding(
            f"{file.name}: unknown encoding {options.encoding!r}",
            hint="use utf-8, utf-16 or latin-1",
        ) from None
    try:
        with _byte_stream(file) as stream:
            head = stream.read(_SNIFF_BYTES)
            if not head:
                return None
            if b"\x00" in head and not wide:
                raise WrongFormat(
                    f"{file.name}: holds binary data, not {file.format.value} text",
                    hint="check the declared format and compression",
                )
            reader = csv.reader(
                _decoded_lines(head, stream, options.encoding),
                delimiter=delimiter,
                quotechar=options.quote or None,
                escapechar=options.escape if options.escape != options.quote else None,
                doublequote=options.escape in (None, options.quote),
            )
            first = next(reader, None)
    except UnicodeDecodeError as exc:
        raise InvalidEncoding(
            f"{file.name}: the first line is not valid {options.encoding} ({exc.reason})",
            hint="set the file's encoding in the read options",
        ) from exc
    except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
        raise CorruptCompression(f"{file.name}: cannot decompress ({exc})") from exc
    except FieldTooLarge as exc:
        raise FieldTooLarge(f"{file.name}: {exc.message}") from exc
    except csv.Error as exc:
        raise WrongFormat(f"{file.name}: the header line is not valid CSV ({exc})") from exc
    if first and first[0].startswith("\ufeff"):
        first[0] = first[0][1:]
    return first if first is not None else []


@dataclass(frozen=True)
class CsvHeader:
    """How a delimited file's records are read: its column names (from its first record) and
    the lines to skip. Files with equal headers can be read by one multi-file scan."""

    names: tuple[str, ...]
    skip: int
    delimiter: str


def csv_header(file: LocalFile, options: ReadOptions, data_format: DataFormat) -> CsvHeader | None:
    """The file's header (None when it holds no bytes at all, once decompressed)."""
    delimiter = options.delimiter or DEFAULT_DELIMITERS.get(data_format, ",")
    first = _first_record(file, options, delimiter)
    if first is None:
        return None
    if not first:
        first = ["column0"]
    if options.header:
        names = [name if name else f"column{i}" for i, name in enumerate(first)]
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                names[i] = f"{name}_{i}"
            seen.add(names[i])
        skip = 1 + (1 if options.skip_first_record else 0)
    else:
        names = [f"column{i}" for i in range(len(first))]
        skip = 1 if options.skip_first_record else 0
    return CsvHeader(tuple(names), skip, delimiter)


def csv_scan(
    file: LocalFile, options: ReadOptions, data_format: DataFormat, scan_id: str
) -> Scan | None:
    """The file's records as VARCHAR columns (None when it holds no bytes at all)."""
    header = csv_header(file, options, data_format)
    if header is None:
        return None
    return csv_files_scan([file], options, header, scan_id)


def csv_files_scan(
    files: list[LocalFile], options: ReadOptions, header: CsvHeader, scan_id: str
) -> Scan:
    """The records of ``files`` (which share ``header`` and their compression) as VARCHAR
    columns, in file order; with several files, one multi-file read whose ``file_index``
    virtual column (the position in ``files``) and rejects scan's ``file_path`` tell each
    row's and each reject's file. The shape names the first file (mapping errors are the same
    for every file of one header)."""
    columns = "{" + ", ".join(f"{sql_literal(n)}: 'VARCHAR'" for n in header.names) + "}"
    encoding = _DUCKDB_ENCODINGS.get(options.encoding.lower(), options.encoding)
    quote = sql_literal(options.quote or "")
    escape = sql_literal(options.escape if options.escape is not None else (options.quote or ""))
    rejects = f"_rej_{scan_id}"
    paths = (
        sql_literal(str(files[0].path))
        if len(files) == 1
        else "[" + ", ".join(sql_literal(str(f.path)) for f in files) + "]"
    )
    sql = (
        f"read_csv({paths}, columns={columns}, header=false, "
        f"skip={header.skip}, auto_detect=false, delim={sql_literal(header.delimiter)}, "
        f"quote={quote}, escape={escape}, encoding={sql_literal(encoding)}, "
        f"compression={sql_literal(_compression_arg(files[0]))}, strict_mode=true, "
        f"store_rejects=true, rejects_table={sql_literal(rejects)}, "
        f"rejects_scan={sql_literal(rejects + '_scan')}, max_line_size={MAX_RECORD_BYTES}, "
        f"null_padding=false, parallel=true)"
    )
    shape = SourceShape(tuple((n, "VARCHAR") for n in header.names), files[0].name)
    return Scan(sql, shape, rejects_table=rejects)


BATCH_VIRTUAL_COLUMNS = frozenset({"file_index", "filename"})
"""Virtual columns of a multi-file read: a header column of the same name would hide them, so
such files are read one by one."""


def with_lf_line_ends(file: LocalFile, options: ReadOptions, target: Path) -> LocalFile | None:
    """The file rewritten at ``target`` with LF record ends, when its records end in a mix of
    CRLF, LF and CR (see ingestd.dataplane.readers.line_ends); None when they do not (its failure
    has another cause) or its encoding cannot be rewritten byte-wise."""
    quote = options.quote or ""
    if not line_ends.rewritable(options.encoding, quote, options.escape):
        return None
    try:
        with _byte_stream(file) as stream:
            found = line_ends.rewrite_with_lf(
                stream, target, quote=quote, escape=options.escape, encoding=options.encoding
            )
    except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
        target.unlink(missing_ok=True)
        raise CorruptCompression(f"{file.name}: cannot decompress ({exc})") from exc
    if not found.mixed:
        target.unlink()
        return None
    return LocalFile(file.name, target, file.format, Compression.NONE, target.stat().st_size)


def json_fields(table: TableSpec, mapping: Mapping) -> dict[str, str]:
    """Top-level JSON keys a mapping reads, with the DuckDB type to read each as: JSON where a
    JSON column or a nested path needs the value's structure, VARCHAR otherwise."""
    wanted: dict[str, str] = {}
    for fm in mapping.fields:
        refs = [ref for _, ref in fm.parts] if fm.parts else [fm.source] if fm.source else []
        whole_json = table.column(fm.target).type is ColumnType.JSON and not fm.parts
        for ref in refs:
            if ref.kind is RefKind.COLUMN:
                key, nested = str(ref.value), False
            elif ref.kind is RefKind.PATH:
                keys = ref.path_keys()
                key, nested = keys[0], len(keys) > 1
            else:
                continue
            structured = whole_json or nested or wanted.get(key) == "JSON"
            wanted[key] = "JSON" if structured else "VARCHAR"
    return wanted


def json_scan(file: LocalFile, data_format: DataFormat, fields: dict[str, str]) -> Scan:
    if not fields:
        raise MappingMissing(
            f"{file.name}: JSON needs a mapping that names the fields to load",
            hint="give a mapping (column names or $.paths)",
        )
    columns = (
        "{" + ", ".join(f"{sql_literal(k)}: {sql_literal(t)}" for k, t in fields.items()) + "}"
    )
    layout = "newline_delimited" if data_format is DataFormat.JSON else "auto"
    sql = (
        f"read_json({sql_literal(str(file.path))}, format={sql_literal(layout)}, "
        f"columns={columns}, compression={sql_literal(_compression_arg(file))}, "
        # DuckDB's reader holds somewhat larger objects too (up to its buffer); past that the
        # read fails and the line scan quarantines the record (``needs_line_scan``).
        f"maximum_object_size={MAX_RECORD_BYTES})"
    )
    return Scan(sql, SourceShape(tuple(fields.items()), file.name, json_paths=True))


def needs_line_scan(exc: duckdb.Error) -> bool:
    """Whether an NDJSON read failed on single lines (malformed, badly encoded, too large or
    not an object) that the line-by-line scan can quarantine."""
    text = str(exc).lower()
    return any(
        sign in text for sign in ("malformed json", "maximum_object_size", "expected object")
    )


def json_lines_scan(
    con: duckdb.DuckDBPyConnection, file: LocalFile, fields: dict[str, str], scan_id: str
) -> Scan:
    """NDJSON read line by line: the precise path for files with bad lines.

    Reads the lines once into a temporary table, numbered as in the file (blank lines and lines
    the text reader refuses count too). The scan yields the fields of the lines that are JSON
    objects; ``json_line_rejects`` lists the other non-blank lines, and the scan's rejects
    table holds the lines the text reader refused (bad encoding, over MAX_RECORD_BYTES).
    """
    rejects, lines = f"_rej_{scan_id}", f"_lines_{scan_id}"
    reader = (
        f"read_csv({sql_literal(str(file.path))}, columns={{'line': 'VARCHAR'}}, header=false, "
        f"auto_detect=false, delim={sql_literal(_JSON_FIELD_SEPARATOR)}, quote='', escape='', "
        f"compression={sql_literal(_compression_arg(file))}, max_line_size={MAX_RECORD_BYTES}, "
        f"store_rejects=true, rejects_table={sql_literal(rejects)}, "
        f"rejects_scan={sql_literal(rejects + '_scan')}, strict_mode=false, parallel=false)"
    )
    try:
        # One thread reads in file order, so row_number() is the k-th line the reader returned.
        con.execute(
            f"CREATE TEMP TABLE {lines}_read AS SELECT row_number() OVER () AS n, line "
            f"FROM {reader}"
        )
        # That line is line k + (lines refused before it) of the file.
        refused = (
            f"(SELECT line, row_number() OVER (ORDER BY line) AS i "
            f"FROM (SELECT DISTINCT line FROM {rejects}))"
        )
        con.execute(
            f"CREATE TEMP TABLE {lines} AS SELECT r.n + (SELECT count(*) FROM {refused} f "
            f"WHERE f.line - f.i < r.n) AS _line, r.line, "
            f"CASE WHEN json_valid(r.line) THEN json_type(r.line) END AS _kind "
            f"FROM {lines}_read r ORDER BY r.n"
        )
    except duckdb.Error as exc:
        raise translate(exc, file.name) from exc
    finally:
        con.execute(f"DROP TABLE IF EXISTS {lines}_read")
    good = f"(SELECT {_json_extracts(fields, 'l.line')} FROM {lines} AS l WHERE l._kind = 'OBJECT')"
    shape = SourceShape(tuple(fields.items()), file.name, json_paths=True)
    return Scan(good, shape, rejects_table=rejects, temp_tables=[lines])


def _json_extracts(fields: dict[str, str], column: str) -> str:
    return ", ".join(
        (
            f"json_extract({column}, {sql_literal(json_path((k,)))}) AS {_q(k)}"
            if t == "JSON"
            else f"json_extract_string({column}, {sql_literal(json_path((k,)))}) AS {_q(k)}"
        )
        for k, t in fields.items()
    )


def json_elements_scan(
    con: duckdb.DuckDBPyConnection, file: LocalFile, fields: dict[str, str], scan_id: str
) -> Scan | None:
    """A ``multijson`` file read element by element: the precise path when the read of the
    whole file failed. Returns None when every element is an object or the file cannot be read
    as elements (the failure is then the file's, not its elements'); else a scan of the
    objects, and ``json_element_rejects`` lists the other elements with their position
    (1-based) in the array."""
    elements = f"_elems_{scan_id}"
    try:
        # One scan in file order (insertion order is preserved), so row_number() is the
        # element's position in the array.
        con.execute(
            f"CREATE TEMP TABLE {elements} AS SELECT row_number() OVER () AS _record, "
            f"json AS element, json_type(json) AS _kind FROM read_json_objects("
            f"{sql_literal(str(file.path))}, format='auto', "
            f"compression={sql_literal(_compression_arg(file))}, "
            f"maximum_object_size={MAX_RECORD_BYTES})"
        )
        [(others,)] = con.execute(
            f"SELECT count(*) FROM {elements} WHERE _kind IS DISTINCT FROM 'OBJECT'"
        ).fetchall()
    except duckdb.Error:
        # Not readable as elements either: the caller reports the first read's error.
        con.execute(f"DROP TABLE IF EXISTS {elements}")
        return None
    if others == 0:
        con.execute(f"DROP TABLE {elements}")
        return None
    good = (
        f"(SELECT {_json_extracts(fields, 'e.element')} FROM {elements} AS e "
        "WHERE e._kind = 'OBJECT' ORDER BY e._record)"
    )
    shape = SourceShape(tuple(fields.items()), file.name, json_paths=True)
    return Scan(good, shape, temp_tables=[elements])


def json_element_rejects(scan: Scan) -> str:
    """SELECT of the scan's elements that are not JSON objects, as quarantine rows:
    ``line, record, column_name, code, message, raw`` (record: the position in the array)."""
    elements = scan.temp_tables[0]
    return (
        f"SELECT NULL, _record, NULL, {sql_literal(RowError.NOT_AN_OBJECT.value)}, "
        f"'element ' || _record || ' of the array is JSON ' || "
        f"lower(coalesce(_kind, 'null')) || ', not an object', element FROM {elements} "
        f"WHERE _kind IS DISTINCT FROM 'OBJECT' ORDER BY _record"
    )


def json_line_rejects(scan: Scan) -> str:
    """SELECT of the scan's non-blank lines that are not JSON objects, as quarantine rows:
    ``line, record, column_name, code, message, raw``."""
    lines = scan.temp_tables[0]
    return (
        f"SELECT _line, NULL, NULL, CASE WHEN _kind IS NULL "
        f"THEN {sql_literal(RowError.MALFORMED_JSON.value)} "
        f"ELSE {sql_literal(RowError.NOT_AN_OBJECT.value)} END, "
        f"CASE WHEN _kind IS NULL THEN 'the line is not valid JSON' "
        f"ELSE 'the line is JSON but not an object' END, line FROM {lines} "
        f"WHERE _kind IS DISTINCT FROM 'OBJECT' AND trim(line, {_BLANK}) <> '' "
        f"ORDER BY _line"
    )


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parquet_scan(file: LocalFile) -> Scan:
    return Scan(f"read_parquet({sql_literal(str(file.path))})", SourceShape((), file.name))


def arrow_scan(
    file: LocalFile, data_format: DataFormat, view: str
) -> tuple[Scan, pa.RecordBatchReader]:
    scan = Scan(view, SourceShape((), file.name), arrow_views=[view])
    if data_format is DataFormat.AVRO:
        return scan, _avro_batches(file.path, scan.reader_failures)
    return scan, _orc_batches(file.path)


def _orc_batches(path: Path) -> pa.RecordBatchReader:
    from pyarrow import orc

    try:
        orc_file = orc.ORCFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise WrongFormat(f"{path.name}: not a readable ORC file ({exc})") from exc

    def stripes() -> Iterator[pa.RecordBatch]:
        for index in range(orc_file.nstripes):
            # read_stripe gives a RecordBatch (a Table in some pyarrow versions).
            stripe = pa.table(orc_file.read_stripe(index))
            yield from stripe.to_batches(ARROW_BATCH_ROWS)

    return pa.RecordBatchReader.from_batches(orc_file.schema, stripes())


_AVRO_READ_ERRORS = (ValueError, EOFError, OSError, zlib.error, struct.error, IndexError)
"""What fastavro raises on a truncated or corrupt file: EOFError for a block cut short,
ValueError for a missing sync marker, a bad header or bad UTF-8 (UnicodeDecodeError), zlib.error
for a corrupt deflate block, struct.error/IndexError for a value cut short."""


def _avro_broken(path: Path, handle: BinaryIO, read: int, exc: Exception) -> WrongFormat:
    try:
        where = f"at byte {handle.tell():,} of {path.stat().st_size:,}"
    except (OSError, ValueError):  # closed meanwhile
        where = "mid-file"
    return WrongFormat(
        f"{path.name}: the Avro file is truncated or corrupt: reading stopped after record "
        f"{read:,}, {where} ({type(exc).__name__}: {first_line_of(exc)})",
        hint="upload the complete file again; nothing of this file was loaded",
    )


def _avro_records(
    path: Path, handle: BinaryIO, records: Iterator[object], failures: list[UnitError]
) -> Iterator[object]:
    """The file's records; a read failure becomes WRONG_FORMAT naming the file and where (also
    put in ``failures``, for when DuckDB is the one pulling the records)."""
    read = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except _AVRO_READ_ERRORS as exc:
            failures.append(_avro_broken(path, handle, read, exc))
            raise failures[-1] from exc
        read += 1
        yield record


def first_line_of(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _avro_batches(path: Path, failures: list[UnitError]) -> pa.RecordBatchReader:
    import fastavro

    handle = path.open("rb")
    try:
        reader = fastavro.reader(handle)
    except _AVRO_READ_ERRORS as exc:
        handle.close()
        raise WrongFormat(f"{path.name}: not a readable Avro file ({exc})") from exc
    schema_fields = (
        reader.writer_schema.get("fields", []) if isinstance(reader.writer_schema, dict) else []
    )
    records = _avro_records(path, handle, iter(reader), failures)
    try:
        first = list(itertools.islice(records, ARROW_BATCH_ROWS))
    except WrongFormat:
        handle.close()
        raise
    if not first:
        handle.close()
        arrow_schema = pa.schema([(f["name"], pa.string()) for f in schema_fields])
        return pa.RecordBatchReader.from_batches(arrow_schema, iter(()))
    first_batch = pa.RecordBatch.from_pylist(first)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield first_batch
            while chunk := list(itertools.islice(records, ARROW_BATCH_ROWS)):
                yield pa.RecordBatch.from_pylist(chunk, schema=first_batch.schema)
        finally:
            handle.close()

    return pa.RecordBatchReader.from_batches(first_batch.schema, batches())


def describe(con: duckdb.DuckDBPyConnection, scan: Scan) -> SourceShape:
    """Fill in the column names and types of a typed scan (Parquet, Avro, ORC)."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {scan.sql}").fetchall()
    except duckdb.Error as exc:
        raise translate(exc, scan.shape.file_name) from exc
    return SourceShape(tuple((str(r[0]), str(r[1])) for r in rows), scan.shape.file_name)


def drop_reject_tables(con: duckdb.DuckDBPyConnection, scan: Scan) -> None:
    """The reader's rejects of the scan (none for a scan that keeps none)."""
    if scan.rejects_table is not None:
        con.execute(f"DROP TABLE IF EXISTS {scan.rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {scan.rejects_table}_scan")


def drop_rejects(con: duckdb.DuckDBPyConnection, scan: Scan) -> None:
    """The reader's rejects of the scan and the temporary tables it read from."""
    drop_reject_tables(con, scan)
    for table in scan.temp_tables:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def translate(exc: duckdb.Error, file_name: str) -> UnitError:
    """One place that turns DuckDB reader failures into ingestd errors."""
    text = str(exc)
    lowered = text.lower()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    if "gzip" in lowered or "zstd" in lowered or "decompress" in lowered:
        return CorruptCompression(f"{file_name}: the compressed stream is corrupt ({first_line})")
    if "unicode" in lowered or "encoding" in lowered:
        return InvalidEncoding(f"{file_name}: {first_line}", hint="set the file's encoding")
    if "maximum_object_size" in lowered or "maximum line size" in lowered:
        return FieldTooLarge(f"{file_name}: a record is larger than {MAX_RECORD_BYTES} bytes")
    return WrongFormat(
        f"{file_name}: the content does not match its format ({first_line})",
        hint="check the declared format and the delimiter",
    )


def is_delimited(data_format: DataFormat) -> bool:
    return data_format in DELIMITED
