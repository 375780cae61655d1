"""The first records of an input file, for a preview: never the whole file.

``heads`` turns one input (as ``files.prepare`` would) into plain local files that hold only
its first records. Text formats are cut at a record boundary while they stream: delimited files
by a quote-aware count of record ends, NDJSON by lines, multijson by its top-level elements
(an array is closed again after the last one kept). Compressed inputs are decoded through the
same metered decoders as a load (``decompress``: the same limits, a bomb is refused the same
way), and decoding stops once the head is full. Columnar files (Parquet, Avro, ORC) are not
cut: the reader reads them with a row limit (``Stager.scan_row_limit``); compressed columnar
files are unpacked whole, under the limits, since their readers need a seekable file.

Not cut by records: text in an encoding whose bytes are not ASCII's (UTF-16): such a head is
cut at ``MAX_HEAD_BYTES`` only.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, cast

from ingestd.dataplane.readers import decompress
from ingestd.dataplane.readers.decompress import DecompressionLimits, Meter
from ingestd.dataplane.readers.detect import compression_of, format_of
from ingestd.dataplane.readers.files import LocalFile, check_zip_directory, prepare
from ingestd.domain.sources import DELIMITED, Compression, DataFormat, ReadOptions
from ingestd.errors import CorruptCompression, EmptyArchive

MAX_HEAD_BYTES = 32 << 20
"""Most decompressed bytes one head holds, however few records that is."""
_PIECE = 1 << 20
COLUMNAR = frozenset({DataFormat.PARQUET, DataFormat.AVRO, DataFormat.ORC})


@dataclass(frozen=True)
class Head:
    file: LocalFile
    """A plain file (never compressed) holding the input's first records."""
    cut: bool
    """The input holds more than the head does."""


@dataclass
class Budget:
    """Input records a preview still wants; ``heads`` stops at 0 (the caller counts down)."""

    records: int
    more: bool = False
    """Set when an input was left unread because the budget was spent."""


class _Full(Exception):
    """The head holds what it needs: stop decoding (never leaves this module)."""


class _Counter(ABC):
    """Finds where the n-th record of a byte stream ends, across chunks."""

    suffix = b""
    """Bytes to append to a cut head (a multijson array's closing bracket)."""
    fed = 0
    """Bytes fed before the current chunk."""
    last_end = 0
    """Offset in the stream just after the last whole record seen (0: none yet)."""
    skipped = 0
    """Records that are not data (a header, a skipped first record): ``last_end`` counts only
    once past them."""
    ends = 0

    def feed(self, chunk: bytes) -> int | None:
        """The offset in ``chunk`` just after the wanted record, or None: not reached yet."""
        end = self._find(chunk)
        self.fed += len(chunk)
        return end

    @abstractmethod
    def _find(self, chunk: bytes) -> int | None:
        """Each record format counts its own record ends in ``chunk``."""

    def _ended(self, offset_in_chunk: int) -> None:
        self.ends += 1
        if self.ends > self.skipped:
            self.last_end = self.fed + offset_in_chunk


class _Lines(_Counter):
    def __init__(self, wanted: int) -> None:
        self.left = wanted

    def _find(self, chunk: bytes) -> int | None:
        at = -1
        while self.left > 0:
            at = chunk.find(b"\n", at + 1)
            if at < 0:
                return None
            self.left -= 1
            self._ended(at + 1)
        return at + 1


class _DelimitedRecords(_Counter):
    """Record ends of a delimited file: newlines outside quotes (an escape character inside
    quotes takes the next byte literally; a doubled quote toggles twice)."""

    def __init__(self, wanted: int, quote: str, escape: str | None, skipped: int) -> None:
        self.left = wanted
        self.skipped = skipped
        self.quote = quote.encode()
        self.escape = escape.encode() if escape is not None and escape != quote else None
        specials = re.escape(self.quote) + (re.escape(self.escape) if self.escape else b"")
        self.pattern = re.compile(b"[\n" + specials + b"]")
        self.in_quote = False
        self.skip_to = 0
        """The offset (in the next chunk: negative carry) before which bytes are escaped."""

    def _find(self, chunk: bytes) -> int | None:
        skip_to = self.skip_to
        for match in self.pattern.finditer(chunk):
            at = match.start()
            if at < skip_to:
                continue
            byte = chunk[at : at + 1]
            if byte == b"\n":
                if not self.in_quote:
                    self.left -= 1
                    self._ended(at + 1)
                    if self.left <= 0:
                        return at + 1
            elif byte == self.escape:
                if self.in_quote:
                    skip_to = at + 2
            else:
                self.in_quote = not self.in_quote
        self.skip_to = max(0, skip_to - len(chunk))
        return None


class _JsonElements(_Counter):
    """Top-level elements of a multijson file: an array's elements, or objects one after
    another."""

    _pattern = re.compile(rb'["\\{}\[\],]|[^\s"\\{}\[\],]')

    def __init__(self, wanted: int) -> None:
        self.left = wanted
        self.array: bool | None = None
        self.depth = 0
        self.in_string = False
        self.escaped = False

    def _find(self, chunk: bytes) -> int | None:
        for match in self._pattern.finditer(chunk):
            at, byte = match.start(), match.group()
            if self.escaped:
                self.escaped = False
                continue
            if self.in_string:
                if byte == b"\\":
                    self.escaped = True
                elif byte == b'"':
                    self.in_string = False
                continue
            if self.array is None:
                self.array = byte == b"["
                self.suffix = b"]\n" if self.array else b""
            if byte == b'"':
                self.in_string = True
            elif byte in (b"{", b"["):
                self.depth += 1
            elif byte in (b"}", b"]"):
                self.depth -= 1
                if not self.array and self.depth == 0 and self._done(at + 1):
                    return at + 1
            elif byte == b"," and self.array and self.depth == 1 and self._done(at):
                return at  # the comma goes: the suffix closes the array
        return None

    def _done(self, offset_in_chunk: int) -> bool:
        self.left -= 1
        self._ended(offset_in_chunk)
        return self.left <= 0


def _counter(data_format: DataFormat, options: ReadOptions, records: int) -> _Counter | None:
    """How to find the end of the first ``records`` data records (None: do not cut)."""
    if not _ascii_compatible(options.encoding):
        return None
    if data_format in DELIMITED:
        extra = (1 if options.header else 0) + (1 if options.skip_first_record else 0)
        return _DelimitedRecords(records + extra, options.quote, options.escape, extra)
    if data_format is DataFormat.JSON:
        return _Lines(records)
    if data_format is DataFormat.MULTIJSON:
        return _JsonElements(records)
    return None


def _ascii_compatible(encoding: str) -> bool:
    return b'\n",'.decode(encoding, errors="replace") == '\n",' and not encoding.lower().replace(
        "-", ""
    ).startswith(("utf16", "utf32"))


class _HeadWriter:
    """A decoder's sink: writes into the head file until the counter says it is full."""

    def __init__(self, target: Path, counter: _Counter | None) -> None:
        self.counter = counter
        self.handle = target.open("wb")
        self.size = 0
        self.rest = b""
        """What the chunk that filled the head held after it."""

    def __call__(self, chunk: bytes) -> None:
        room = MAX_HEAD_BYTES - self.size
        piece = chunk[:room]  # the counter sees only what the head can hold
        end = self.counter.feed(piece) if self.counter is not None else None
        if end is None and len(chunk) <= room:
            self.handle.write(chunk)
            self.size += len(chunk)
            return
        keep = end if end is not None else len(piece)
        self.handle.write(piece[:keep])
        self.size += keep
        self.rest = chunk[keep:] or b" "
        if self.counter is not None:
            if end is None and self.counter.last_end > 0:
                # Full before the wanted record: end at the last whole record, not inside one
                # (whose cut would show as an error the file does not have).
                self.handle.seek(self.counter.last_end)
                self.handle.truncate()
            if end is not None or self.counter.last_end > 0:
                self.handle.write(self.counter.suffix)
        raise _Full


def _copy(source: IO[bytes], sink: Callable[[bytes], object]) -> None:
    while chunk := source.read(_PIECE):
        sink(chunk)


def _peek(source: IO[bytes]) -> bytes:
    peek = getattr(source, "peek", None)
    return bytes(peek(8)[:8]) if peek is not None else b""


def heads(
    path: Path,
    name: str,
    options: ReadOptions,
    staging: Path,
    budget: Budget,
    limits: DecompressionLimits | None = None,
) -> Iterator[Head]:
    """The heads of one input (several for a zip archive: one per member while the budget
    lasts). Raises what ``files.prepare`` raises for the same input (limits, corrupt streams,
    empty archives)."""
    limits = limits or DecompressionLimits()
    with path.open("rb") as source:
        head = _peek(source)
        compression = options.compression or compression_of(name, head)
        meter = Meter(name, path.stat().st_size, limits)
        if compression is Compression.ZIP:
            yield from _zip_heads(path, name, options, staging, budget, meter)
            return
        data_format = options.format or format_of(
            name, head if compression is Compression.NONE else b""
        )
        if data_format in COLUMNAR:
            # Readers of columnar files need the whole (seekable) file: prepare unpacks it.
            for file in prepare(path, name, options, staging, limits, meter):
                yield Head(file, cut=False)
            return
        yield _stream_head(source, name, data_format, compression, options, staging, budget, meter)


def _stream_head(
    source: IO[bytes],
    name: str,
    data_format: DataFormat,
    compression: Compression,
    options: ReadOptions,
    staging: Path,
    budget: Budget,
    meter: Meter,
) -> Head:
    """Decode (if compressed) and copy ``source`` until the head holds ``budget.records``."""
    target = staging / f"head_{uuid.uuid4().hex[:12]}"
    writer = _HeadWriter(target, _counter(data_format, options, budget.records))
    cut = False
    try:
        try:
            if compression is Compression.NONE:
                _copy(source, writer)
            else:
                decompress_stream(compression)(cast(BinaryIO, source), writer, meter)
        except _Full:
            rest = writer.rest
            if compression is Compression.NONE and not rest.strip():
                rest = source.read(_PIECE)
            # A compressed stream is not decoded further: a head that ends where a decoded
            # piece ended counts as cut (the preview may say "truncated" of exactly N records).
            cut = bool(rest.strip()) or compression is not Compression.NONE
        finally:
            writer.handle.close()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    file = LocalFile(name, target, data_format, Compression.NONE, target.stat().st_size)
    return Head(file, cut=cut)


def decompress_stream(
    compression: Compression,
) -> Callable[[BinaryIO, Callable[[bytes], object], Meter], None]:
    """The metered decoder of a stream compression (``decompress``)."""
    return {
        Compression.GZIP: decompress.gunzip,
        Compression.BZ2: decompress.bunzip2,
        Compression.ZSTD: decompress.unzstd,
    }[compression]


def _zip_heads(
    path: Path,
    name: str,
    options: ReadOptions,
    staging: Path,
    budget: Budget,
    meter: Meter,
) -> Iterator[Head]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and _matches(info.filename, options.zip_pattern)
            ]
            check_zip_directory(members, meter)
            if not members:
                raise EmptyArchive(
                    f"{name}: no member matches {options.zip_pattern!r}",
                    hint="check zip_pattern (Kusto zipPattern)",
                )
            for number, info in enumerate(members):
                if budget.records <= 0:
                    budget.more = True
                    return
                # As files.prepare reads members: plain, the format from the member's name.
                member_name = f"{name}/{info.filename}"
                with archive.open(info) as member:
                    data_format = options.format or format_of(member_name, _peek(member))
                    if data_format in COLUMNAR:
                        target = staging / f"zip{number}_{Path(info.filename).name}"
                        _unpack_member(member, target, info, meter)
                        file = LocalFile(
                            member_name,
                            target,
                            data_format,
                            Compression.NONE,
                            target.stat().st_size,
                        )
                        yield Head(file, cut=False)
                        continue
                    yield _stream_head(
                        member,
                        member_name,
                        data_format,
                        Compression.NONE,
                        options,
                        staging,
                        budget,
                        meter,
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptCompression(f"{name}: the zip archive is corrupt ({exc})") from exc


def _matches(filename: str, pattern: str) -> bool:
    return fnmatch.fnmatch(filename, pattern)


def _unpack_member(member: IO[bytes], target: Path, info: zipfile.ZipInfo, meter: Meter) -> None:
    produced = 0
    with target.open("wb") as writer:
        while chunk := member.read(_PIECE):
            produced += len(chunk)
            writer.write(chunk)
            meter.add(len(chunk), produced, info.compress_size)
