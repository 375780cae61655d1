"""Decompression with limits: every compressed input is decoded through a meter that counts the
bytes coming out against the bytes going in (docs/security/egress-and-limits.md).

Contract:

* ``INGESTD_MAX_DECOMPRESSED_BYTES`` bounds what one input file expands to, all its streams,
  zip members and nested archives together.
* ``INGESTD_MAX_COMPRESSION_RATIO`` bounds decompressed / compressed bytes, for each stream as
  it decodes (after ``RATIO_GRACE_BYTES`` of output, so a tiny file of blanks passes) and for the
  whole input against its size on disk.
* A zip archive is judged by its central directory before anything is extracted: the member
  count (``INGESTD_MAX_ARCHIVE_MEMBERS``), the declared sizes and ratios. Extraction still counts
  the real bytes, bounded by the declared sizes.
* Output is produced in bounded pieces (``_OUT_PIECE`` at most per call for gzip and bz2; zstd is
  fed ``_ZSTD_IN_PIECE`` bytes at a time, since zstandard's decompressobj has no output bound and
  one zstd block of 4 bytes can stand for 128 KiB), so a bomb is refused after a few MiB, in
  milliseconds, without its output ever being in memory.
* Crossing a limit raises ``DecompressionLimit`` (Permanent) naming the limit and its setting.
"""

from __future__ import annotations

import bz2
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingestd.errors import CorruptCompression, DecompressionLimit

RATIO_GRACE_BYTES = 16 * 1024 * 1024
"""Output a stream may produce before its ratio is judged (small, very repetitive files)."""

_IN_PIECE = 1 << 20
_OUT_PIECE = 4 << 20
_ZSTD_IN_PIECE = 2048
"""A zstd RLE block turns 4 bytes into 128 KiB: 2 KiB of input yields at most 64 MiB."""


@dataclass(frozen=True)
class DecompressionLimits:
    """The operator's limits (settings ``max_decompressed_bytes``, ``max_compression_ratio``,
    ``max_archive_members``); the defaults are the settings' defaults."""

    max_bytes: int = 64 * 1024**3
    max_ratio: float = 200.0
    max_members: int = 10_000


def _size(n: float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


class Meter:
    """Counts one input file's decompressed bytes (shared by its streams, members and nested
    archives) and raises ``DecompressionLimit`` when a limit is crossed."""

    def __init__(self, name: str, compressed_size: int, limits: DecompressionLimits) -> None:
        self.name = name
        self.compressed_size = max(compressed_size, 1)
        self.limits = limits
        self.total = 0

    def over_size(self, produced: int) -> DecompressionLimit:
        return DecompressionLimit(
            f"{self.name}: decompresses to more than {_size(self.limits.max_bytes)} "
            f"(the INGESTD_MAX_DECOMPRESSED_BYTES limit, {self.limits.max_bytes} bytes; "
            f"refused after {_size(produced)})",
            hint="split the input into smaller files, or raise INGESTD_MAX_DECOMPRESSED_BYTES",
        )

    def over_ratio(self, produced: int, consumed: int) -> DecompressionLimit:
        return DecompressionLimit(
            f"{self.name}: expands more than {self.limits.max_ratio:g} times "
            f"(the INGESTD_MAX_COMPRESSION_RATIO limit; {_size(consumed)} gave "
            f"{_size(produced)}), which looks like a decompression bomb",
            hint="if the data is genuine, raise INGESTD_MAX_COMPRESSION_RATIO",
        )

    def add(self, produced: int, stream_out: int, stream_in: int) -> None:
        """``produced`` more bytes came out; the stream has given ``stream_out`` bytes for
        ``stream_in`` bytes consumed so far."""
        self.total += produced
        if self.total > self.limits.max_bytes:
            raise self.over_size(self.total)
        ratio_cap = self.limits.max_ratio
        if stream_out > RATIO_GRACE_BYTES and stream_out > ratio_cap * max(stream_in, 1):
            raise self.over_ratio(stream_out, stream_in)
        if self.total > RATIO_GRACE_BYTES and self.total > ratio_cap * self.compressed_size:
            raise self.over_ratio(self.total, self.compressed_size)


Sink = Callable[[bytes], object]
"""Where decompressed bytes go: a file's ``write``, or nothing (a measuring pass)."""


def gunzip(source: BinaryIO, sink: Sink, meter: Meter) -> None:
    """Decode every gzip member of ``source`` into ``sink``; CorruptCompression if corrupt or
    truncated."""
    consumed = produced = 0
    inflater = zlib.decompressobj(wbits=31)
    pending = b""
    started = False
    try:
        while True:
            if not pending:
                pending = source.read(_IN_PIECE)
                if not pending:
                    # inflate may hold output it had no room for (the rest of a match)
                    while not inflater.eof and (out := inflater.decompress(b"", _OUT_PIECE)):
                        produced += len(out)
                        sink(out)
                        meter.add(len(out), produced, consumed)
                    break
                consumed += len(pending)
            if inflater.eof:
                # The member ended; whatever follows is the next member (or NUL padding).
                if not pending.strip(b"\0"):
                    pending = b""
                    continue
                inflater = zlib.decompressobj(wbits=31)
            out = inflater.decompress(pending, _OUT_PIECE)
            started = True
            pending = inflater.unconsumed_tail or inflater.unused_data
            if out:
                produced += len(out)
                sink(out)
                meter.add(len(out), produced, consumed - len(pending))
    except zlib.error as exc:
        raise CorruptCompression(f"{meter.name}: the gzip stream is corrupt ({exc})") from exc
    if started and not inflater.eof:
        raise CorruptCompression(f"{meter.name}: the gzip stream is truncated")


def bunzip2(source: BinaryIO, sink: Sink, meter: Meter) -> None:
    consumed = produced = 0
    decoder = bz2.BZ2Decompressor()
    pending = b""
    try:
        while True:
            if decoder.eof:
                rest = decoder.unused_data + pending
                if not rest:
                    rest = source.read(_IN_PIECE)
                    consumed += len(rest)
                    if not rest:
                        return
                decoder, pending = bz2.BZ2Decompressor(), rest
            if decoder.needs_input and not pending:
                pending = source.read(_IN_PIECE)
                if not pending:
                    raise CorruptCompression(f"{meter.name}: the bz2 stream is truncated")
                consumed += len(pending)
            out = decoder.decompress(pending, _OUT_PIECE)
            pending = b""
            if out:
                produced += len(out)
                sink(out)
                meter.add(len(out), produced, consumed)
    except (OSError, EOFError, ValueError) as exc:
        raise CorruptCompression(
            f"{meter.name}: the bz2 stream is corrupt or truncated ({exc})"
        ) from exc


def unzstd(source: BinaryIO, sink: Sink, meter: Meter) -> None:
    """Decode every zstd frame; a last frame without its end is CorruptCompression (zstandard's
    stream reader would end it silently)."""
    import zstandard

    context = zstandard.ZstdDecompressor()
    frame, in_frame = context.decompressobj(), False
    consumed = produced = 0
    try:
        while chunk := source.read(_IN_PIECE):
            consumed += len(chunk)
            view = memoryview(chunk)
            offset = 0
            while offset < len(view):
                piece = view[offset : offset + _ZSTD_IN_PIECE]
                offset += len(piece)
                out = frame.decompress(piece)
                in_frame = True
                if out:
                    produced += len(out)
                    sink(out)
                    meter.add(len(out), produced, consumed - (len(view) - offset))
                if frame.eof:
                    # The frame ended; whatever follows is the next frame.
                    rest = frame.unused_data
                    frame, in_frame = context.decompressobj(), False
                    if rest:
                        view = memoryview(bytes(rest) + bytes(view[offset:]))
                        offset = 0
    except zstandard.ZstdError as exc:
        raise CorruptCompression(f"{meter.name}: the zstd stream is corrupt ({exc})") from exc
    if in_frame:
        raise CorruptCompression(
            f"{meter.name}: the zstd stream is truncated (its last frame has no end)"
        )


class _Stopped(Exception):
    """The measuring pass was told to stop (its reader has read all it wanted)."""


def measure_gzip(path: Path, meter: Meter, stop: threading.Event | None = None) -> None:
    """Decode a gzip file without keeping its output, to apply the limits to a reader that
    decodes gzip itself (DuckDB), beside it (``readers.gzip_judge``). ``stop`` ends the pass
    early, without a verdict on the rest of the file."""

    def discard(_: bytes) -> None:
        if stop is not None and stop.is_set():
            raise _Stopped

    with path.open("rb") as raw:
        try:
            gunzip(raw, discard, meter)
        except _Stopped:
            return


def unpack(
    decoder: Callable[[BinaryIO, Sink, Meter], None], source: Path, target: Path, meter: Meter
) -> None:
    """Decode ``source`` into the file ``target``; removes ``target`` if a limit is crossed."""
    try:
        with source.open("rb") as reader, target.open("wb") as writer:
            decoder(reader, writer.write, meter)
    except (DecompressionLimit, CorruptCompression):
        target.unlink(missing_ok=True)
        raise
