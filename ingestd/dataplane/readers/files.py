"""Resolve a unit's inputs to local, readable files.

Path templates are rendered for the day, globbed and each match checked against the project's
file policy (``domain.file_access.ProjectFiles``). bz2 and
zstd streams and zip members are unpacked into the unit's staging folder with bounded buffers;
gzip stays compressed and is decoded by the reader itself (except under columnar formats,
which need a seekable file), with a measuring pass beside it (``readers.gzip_judge``). Every
decompression is metered against the limits of ingestd.dataplane.readers.decompress.
"""

from __future__ import annotations

import fnmatch
import glob
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from ingestd.dataplane.readers import decompress
from ingestd.dataplane.readers.decompress import DecompressionLimits, Meter
from ingestd.dataplane.readers.detect import compression_of, format_of, strip_compression_suffix
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.sources import Compression, DataFormat, ReadOptions
from ingestd.errors import (
    CorruptCompression,
    DecompressionLimit,
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
    meter: Meter | None = None
    """GZIP: the meter its limits are judged by while the reader decodes it; whoever reads
    the file does so inside ``gzip_judge.judged_beside`` (None: nothing left to judge)."""


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


def prepare(
    path: Path,
    name: str,
    options: ReadOptions,
    staging: Path,
    limits: DecompressionLimits | None = None,
    meter: Meter | None = None,
) -> list[LocalFile]:
    """Turn one input file into the local files to read (several for a zip archive).

    Every decompression goes through ``meter`` (one per input file, shared by its nested
    archives), which enforces ``limits``: see ingestd.dataplane.readers.decompress."""
    head = _head(path)
    if meter is None:
        meter = Meter(name, path.stat().st_size, limits or DecompressionLimits())
    compression = options.compression or compression_of(name, head)
    if compression in (Compression.BZ2, Compression.ZSTD):
        # zstd too: DuckDB and zstandard's stream reader end a truncated zstd stream silently,
        # so it is unpacked here, where a missing end of frame is detected.
        target = staging / strip_compression_suffix(path.name)
        if compression is Compression.BZ2:
            decompress.unpack(decompress.bunzip2, path, target, meter)
        else:
            decompress.unpack(decompress.unzstd, path, target, meter)
        # Users see the name they gave (people.csv.bz2); the format comes from what is inside.
        return prepare(target, name, _plain(options), staging, meter=meter)
    if compression is Compression.ZIP:
        members = _unpack_zip(path, name, options.zip_pattern, staging, meter)
        # A member may itself be compressed or an archive: judged with the same meter.
        return [
            file
            for member_path, member_name in members
            for file in prepare(member_path, member_name, _plain(options), staging, meter=meter)
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
        decompress.unpack(decompress.gunzip, path, target, meter)
        return [LocalFile(name, target, data_format, Compression.NONE, target.stat().st_size)]
    # The reader (DuckDB) decodes gzip itself; the measuring pass runs beside it, not first
    # (first, the load waited for a whole extra decode of the file).
    judge = meter if compression is Compression.GZIP else None
    return [LocalFile(name, path, data_format, compression, path.stat().st_size, judge)]


def _plain(options: ReadOptions) -> ReadOptions:
    from dataclasses import replace

    return replace(options, compression=Compression.NONE)


def check_zip_directory(infos: list[zipfile.ZipInfo], meter: Meter) -> None:
    """Judge an archive by its central directory before extracting anything."""
    limits = meter.limits
    if len(infos) > limits.max_members:
        raise DecompressionLimit(
            f"{meter.name}: the zip archive has {len(infos)} members, more than "
            f"{limits.max_members} (the INGESTD_MAX_ARCHIVE_MEMBERS limit)",
            hint="split the archive, or raise INGESTD_MAX_ARCHIVE_MEMBERS",
        )
    declared = sum(info.file_size for info in infos)
    if meter.total + declared > limits.max_bytes:
        raise meter.over_size(meter.total + declared)
    for info in infos:
        if (
            info.file_size > decompress.RATIO_GRACE_BYTES
            and info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            raise meter.over_ratio(info.file_size, info.compress_size)


def _unpack_zip(
    source: Path, name: str, pattern: str, staging: Path, meter: Meter
) -> list[tuple[Path, str]]:
    try:
        with zipfile.ZipFile(source) as archive:
            members = [
                info
                for info in archive.infolist()
                if not info.is_dir() and fnmatch.fnmatch(info.filename, pattern)
            ]
            check_zip_directory(members, meter)
            if not members:
                raise EmptyArchive(
                    f"{name}: no member matches {pattern!r}",
                    hint="check zip_pattern (Kusto zipPattern)",
                )
            out = []
            for index, info in enumerate(members):
                target = staging / f"zip{index}_{Path(info.filename).name}"
                with archive.open(info) as reader, target.open("wb") as writer:
                    # zipfile reads no more than the declared size; count what comes out
                    produced = 0
                    while chunk := reader.read(_COPY_BUFFER):
                        produced += len(chunk)
                        writer.write(chunk)
                        meter.add(len(chunk), produced, info.compress_size)
                out.append((target, f"{name}/{info.filename}"))
            return out
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise CorruptCompression(f"{name}: the zip archive is corrupt ({exc})") from exc
