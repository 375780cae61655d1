"""Detect a file's format and compression from its name, or else from its first bytes."""

from __future__ import annotations

from pathlib import PurePath

from ingestd.domain.sources import Compression, DataFormat
from ingestd.errors import FormatNotSupported

_COMPRESSION_SUFFIXES = {
    ".gz": Compression.GZIP,
    ".gzip": Compression.GZIP,
    ".zst": Compression.ZSTD,
    ".zstd": Compression.ZSTD,
    ".bz2": Compression.BZ2,
    ".zip": Compression.ZIP,
}
_MAGIC = (
    (b"\x1f\x8b", Compression.GZIP),
    (b"\x28\xb5\x2f\xfd", Compression.ZSTD),
    (b"BZh", Compression.BZ2),
    (b"PK\x03\x04", Compression.ZIP),
    (b"PK\x05\x06", Compression.ZIP),  # an empty zip archive
)
_FORMAT_SUFFIXES = {
    ".csv": DataFormat.CSV,
    ".tsv": DataFormat.TSV,
    ".tsve": DataFormat.TSV,
    ".psv": DataFormat.PSV,
    ".scsv": DataFormat.SCSV,
    ".txt": DataFormat.TXT,
    ".json": DataFormat.JSON,
    ".ndjson": DataFormat.JSON,
    ".jsonl": DataFormat.JSON,
    ".multijson": DataFormat.MULTIJSON,
    ".parquet": DataFormat.PARQUET,
    ".pq": DataFormat.PARQUET,
    ".avro": DataFormat.AVRO,
    ".orc": DataFormat.ORC,
}
_FORMAT_MAGIC = (
    (b"PAR1", DataFormat.PARQUET),
    (b"Obj\x01", DataFormat.AVRO),
    (b"ORC", DataFormat.ORC),
)


def compression_of(name: str, head: bytes) -> Compression:
    """Compression named by the file's last suffix, else recognised by magic bytes."""
    suffix = PurePath(name).suffix.lower()
    if suffix in _COMPRESSION_SUFFIXES:
        return _COMPRESSION_SUFFIXES[suffix]
    for magic, compression in _MAGIC:
        if head.startswith(magic):
            return compression
    return Compression.NONE


def strip_compression_suffix(name: str) -> str:
    path = PurePath(name)
    return path.stem if path.suffix.lower() in _COMPRESSION_SUFFIXES else path.name


def format_of(name: str, head: bytes) -> DataFormat:
    """Format named by the suffix under any compression suffix, else by magic bytes.

    Raises ``FormatNotSupported`` when neither says; the hint tells the user to declare it.
    """
    suffix = PurePath(strip_compression_suffix(name)).suffix.lower()
    if suffix in _FORMAT_SUFFIXES:
        return _FORMAT_SUFFIXES[suffix]
    for magic, data_format in _FORMAT_MAGIC:
        if head.startswith(magic):
            return data_format
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        return DataFormat.JSON
    if stripped.startswith(b"["):
        return DataFormat.MULTIJSON
    raise FormatNotSupported(
        f"cannot tell the format of {name!r} from its name or content",
        hint="declare it with format=csv|tsv|psv|scsv|txt|json|multijson|parquet|avro|orc",
    )
