"""Resolve a unit's inputs to local, readable files.

Path templates are rendered for the day, globbed and each match checked against the project's
file policy (``domain.file_access.ProjectFiles``). bz2 and
zstd streams and zip members are unpacked into the unit's staging folder with bounded buffers;
gzip stays compressed and is decoded by the reader itself (except under columnar formats,
which need a seekable file).
"""

from __future__ import annotations

import bz2
import fnmatch
import glob
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ingestd.dataplane.detect import compression_of, format_of, strip_compression_suffix
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.sources import Compression, DataFormat, ReadOptions
from ingestd.errors import (
    CorruptCompression,
    EmptyArchive,
    SourceForbidden,
    SourceNotFound,
)

_COPY_BUFFER = 1 << 20


@dataclass(frozen=True)
class LocalFile:
    """One readable file: ``name`` is what users see (quarantine, per-file counts)."""

    name: str
    path: Path
    format: DataFormat
    compression: Compression
    """NONE or GZIP: what the reader must decode (other compressions are unpacked)."""
    size: int


def check_allowed(path: Path, files: ProjectFiles) -> Path:
    """Resolve ``path`` (symlinks and ``..`` followed) and refuse it unless the project may
    read it: inside one of its roots, outside ingestd's own files (``ProjectFiles.check``)."""
    return files.check(path)


def _fixed_prefix(pattern: Path) -> Path:
    """The leading components of a glob pattern that hold no wildcard."""
    parts: list[str] = []
    for part in pattern.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def expand(pattern: str, files: ProjectFiles) -> list[Path]:
    """Files matching a rendered path or glob, sorted, each resolved and checked against the
    project's file policy; SourceNotFound when there are none. A match that resolves outside
    the project's roots (``..`` in the pattern, a symlink) refuses the whole input."""
    base = Path(pattern).expanduser()
    magic = glob.has_magic(pattern)
    check_allowed(_fixed_prefix(base) if magic else base, files)
    if magic:
        matches = sorted(Path(p) for p in glob.glob(str(base), recursive=True))
        matches = [m for m in matches if m.is_file()]
    else:
        matches = [base] if base.exists() else []
    if not matches:
        raise SourceNotFound(
            f"no file matches {pattern}", hint="check the path template and the day"
        )
    return [check_allowed(m, files) for m in matches]


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(8)
    except FileNotFoundError as exc:
        raise SourceNotFound(f"{path} does not exist") from exc
    except PermissionError as exc:
        raise SourceForbidden(f"{path} cannot be read: permission denied") from exc


def prepare(path: Path, name: str, options: ReadOptions, staging: Path) -> list[LocalFile]:
    """Turn one input file into the local files to read (several for a zip archive)."""
    head = _head(path)
    compression = options.compression or compression_of(name, head)
    if compression in (Compression.BZ2, Compression.ZSTD):
        # zstd too: DuckDB and zstandard's stream reader end a truncated zstd stream silently,
        # so it is unpacked here, where a missing end of frame is detected.
        target = staging / strip_compression_suffix(path.name)
        if compression is Compression.BZ2:
            _unpack_bz2(path, target, name)
        else:
            _unpack_zstd(path, target, name)
        # Users see the name they gave (people.csv.bz2); the format comes from what is inside.
        return prepare(target, name, _plain(options), staging)
    if compression is Compression.ZIP:
        return [
            file
            for member_path, member_name in _unpack_zip(path, name, options.zip_pattern, staging)
            for file in prepare(member_path, member_name, _plain(options), staging)
        ]
    data_format = options.format or format_of(
        name, head if compression is Compression.NONE else b""
    )
    if compression is not Compression.NONE and data_format in (
        DataFormat.PARQUET,
        DataFormat.AVRO,
        DataFormat.ORC,
    ):
        # Columnar readers need a seekable plain file.
        target = staging / strip_compression_suffix(path.name)
        _unpack_gzip(path, target, name)
        return [LocalFile(name, target, data_format, Compression.NONE, target.stat().st_size)]
    return [LocalFile(name, path, data_format, compression, path.stat().st_size)]


def _plain(options: ReadOptions) -> ReadOptions:
    from dataclasses import replace

    return replace(options, compression=Compression.NONE)


def _unpack_bz2(source: Path, target: Path, name: str) -> None:
    try:
        with bz2.open(source, "rb") as reader, target.open("wb") as writer:
            shutil.copyfileobj(reader, writer, _COPY_BUFFER)
    except (OSError, EOFError, ValueError) as exc:
        raise CorruptCompression(f"{name}: the bz2 stream is corrupt or truncated ({exc})") from exc


def _unpack_zstd(source: Path, target: Path, name: str) -> None:
    import zstandard

    context = zstandard.ZstdDecompressor()
    frame, in_frame = context.decompressobj(), False
    try:
        with source.open("rb") as reader, target.open("wb") as writer:
            while chunk := reader.read(_COPY_BUFFER):
                while chunk:
                    writer.write(frame.decompress(chunk))
                    in_frame = True
                    if not frame.eof:
                        break
                    # The frame ended; whatever follows is the next frame.
                    chunk = frame.unused_data
                    frame, in_frame = context.decompressobj(), False
    except zstandard.ZstdError as exc:
        raise CorruptCompression(f"{name}: the zstd stream is corrupt ({exc})") from exc
    if in_frame:
        raise CorruptCompression(
            f"{name}: the zstd stream is truncated (its last frame has no end)"
        )


def _unpack_gzip(source: Path, target: Path, name: str) -> None:
    import gzip

    try:
        with (
            source.open("rb") as raw,
            gzip.GzipFile(fileobj=raw) as reader,
            target.open("wb") as writer,
        ):
            shutil.copyfileobj(reader, writer, _COPY_BUFFER)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptCompression(f"{name}: the gzip stream is corrupt ({exc})") from exc


def _unpack_zip(source: Path, name: str, pattern: str, staging: Path) -> list[tuple[Path, str]]:
    try:
        with zipfile.ZipFile(source) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and fnmatch.fnmatch(info.filename, pattern)
            ]
            if not members:
                raise EmptyArchive(
                    f"{name}: no member matches {pattern!r}",
                    hint="check zip_pattern (Kusto zipPattern)",
                )
            out = []
            for index, info in enumerate(members):
                target = staging / f"zip{index}_{Path(info.filename).name}"
                with archive.open(info) as reader, target.open("wb") as writer:
                    shutil.copyfileobj(reader, writer, _COPY_BUFFER)
                out.append((target, f"{name}/{info.filename}"))
            return out
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptCompression(f"{name}: the zip archive is corrupt ({exc})") from exc
