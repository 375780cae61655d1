"""Decompression bombs and oversized inputs are refused as they decode (ingestd.dataplane
.decompress through files.prepare and, for gzip, readers.gzip_judge: the code every load
runs): DECOMPRESSION_LIMIT, Permanent, a message that names the limit and its setting; genuine
compressed files still pass."""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from ingestd.dataplane.readers.decompress import RATIO_GRACE_BYTES, DecompressionLimits
from ingestd.dataplane.readers.files import LocalFile, prepare
from ingestd.dataplane.readers.gzip_judge import judged_beside
from ingestd.domain.sources import DataFormat, ReadOptions
from ingestd.errors import CorruptCompression, DecompressionLimit, FailureClass

MiB = 1 << 20
ZEROS = b"\0" * MiB


def gzip_of_zeros(mib: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(c.compress(ZEROS) for _ in range(mib)) + c.flush()


def zstd_of_zeros(mib: int) -> bytes:
    c = zstandard.ZstdCompressor(level=1).compressobj()
    return b"".join(c.compress(ZEROS) for _ in range(mib)) + c.flush()


def bz2_of_zeros(mib: int) -> bytes:
    c = bz2.BZ2Compressor(9)
    return b"".join(c.compress(ZEROS) for _ in range(mib)) + c.flush()


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@functools.cache
def csv_text(size: int) -> bytes:
    """CSV that compresses like real data (about 3-5x)."""
    rows, n = [b"id,name,score\n"], 0
    rng = 42
    while n < size:
        rng = (rng * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        row = f"{rng % 1_000_000},name{rng % 7919},{(rng >> 20) % 10_000 / 7:.4f}\n".encode()
        rows.append(row)
        n += len(row)
    return b"".join(rows)


def run(
    tmp_path: Path, name: str, data: bytes, limits: DecompressionLimits | None = None
) -> list[LocalFile]:
    path = tmp_path / name
    path.write_bytes(data)
    staging = tmp_path / "staging"
    staging.mkdir(exist_ok=True)
    files = list(prepare(path, name, ReadOptions(format=DataFormat.CSV), staging, limits))
    for file in files:
        # gzip is judged while its reader decodes it (readers/gzip_judge.py), as a load does.
        with judged_beside(file, lambda: None):
            pass
    return files


BOMBS: dict[str, Callable[[], tuple[str, bytes]]] = {
    "gzip 256 MiB of zeros": lambda: ("bomb.csv.gz", gzip_of_zeros(256)),
    "zstd 4 GiB of zeros": lambda: ("bomb.csv.zst", zstd_of_zeros(4096)),
    "bz2 256 MiB of zeros": lambda: ("bomb.csv.bz2", bz2_of_zeros(256)),
    "zip member of 128 MiB zeros": lambda: ("bomb.zip", zip_of({"a.csv": b"\0" * (128 * MiB)})),
}


@pytest.mark.parametrize("bomb", list(BOMBS), ids=list(BOMBS))
def test_a_bomb_is_refused_by_the_ratio_limit(tmp_path: Path, bomb: str) -> None:
    name, data = BOMBS[bomb]()
    with pytest.raises(DecompressionLimit) as raised:
        run(tmp_path, name, data)
    error = raised.value
    assert error.code == "DECOMPRESSION_LIMIT"
    assert error.failure_class is FailureClass.PERMANENT
    assert "INGESTD_MAX_COMPRESSION_RATIO" in error.message
    assert "200 times" in error.message
    # nothing of the bomb's output stays on disk past a few pieces
    staged = sum(p.stat().st_size for p in (tmp_path / "staging").rglob("*") if p.is_file())
    assert staged <= 2 * RATIO_GRACE_BYTES + 64 * MiB


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("big.csv.gz", gzip.compress),
        ("big.csv.zst", lambda d: zstandard.ZstdCompressor().compress(d)),
        ("big.csv.bz2", bz2.compress),
        ("big.zip", lambda d: zip_of({"big.csv": d})),
    ],
)
def test_an_input_past_the_size_limit_is_refused_and_the_message_names_the_setting(
    tmp_path: Path, name: str, encode: Callable[[bytes], bytes]
) -> None:
    limits = DecompressionLimits(max_bytes=2 * MiB)
    with pytest.raises(DecompressionLimit) as raised:
        run(tmp_path, name, encode(csv_text(3 * MiB)), limits)
    assert "INGESTD_MAX_DECOMPRESSED_BYTES" in raised.value.message
    assert "2.0 MiB" in raised.value.message


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("ok.csv.gz", gzip.compress),
        ("ok.csv.zst", lambda d: zstandard.ZstdCompressor().compress(d)),
        ("ok.csv.bz2", bz2.compress),
        ("ok.zip", lambda d: zip_of({"ok.csv": d})),
    ],
)
def test_genuine_data_within_the_limits_passes(
    tmp_path: Path, name: str, encode: Callable[[bytes], bytes]
) -> None:
    data = csv_text(20 * MiB)
    files = run(tmp_path, name, encode(data), DecompressionLimits(max_bytes=21 * MiB))
    assert len(files) == 1


def test_a_small_very_repetitive_file_passes_under_the_grace(tmp_path: Path) -> None:
    assert run(tmp_path, "blank.csv.gz", gzip_of_zeros(8))


@pytest.mark.parametrize(
    "inner",
    [
        ("inner.zip", lambda: zip_of({"a.csv": b"\0" * (64 * MiB)})),
        ("a.csv.gz", lambda: gzip_of_zeros(64)),
    ],
    ids=["zip", "gzip"],
)
def test_a_compressed_member_of_a_zip_is_not_expanded(
    tmp_path: Path, inner: tuple[str, Callable[[], bytes]]
) -> None:
    """Members are read as the plain files they are: a nested archive is never unpacked, so a
    42.zip-style bomb is a small (wrongly formatted) member, not 4 PB of output."""
    name, make = inner
    packed = make()
    (file,) = run(tmp_path, "nested.zip", zip_of({name: packed}, zipfile.ZIP_STORED))
    assert file.size == len(packed)


def test_too_many_zip_members(tmp_path: Path) -> None:
    archive = zip_of({f"m{i}.csv": b"a\n1\n" for i in range(11)})
    with pytest.raises(DecompressionLimit) as raised:
        run(tmp_path, "many.zip", archive, DecompressionLimits(max_members=10))
    assert "11 members" in raised.value.message
    assert "INGESTD_MAX_ARCHIVE_MEMBERS" in raised.value.message


def test_the_ratio_limit_can_be_raised_by_the_operator(tmp_path: Path) -> None:
    run(tmp_path, "z.csv.zst", zstd_of_zeros(64), DecompressionLimits(max_ratio=1e9))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("t.csv.gz", gzip.compress(b"a,b\n" * 100_000)[:-20]),
        ("t.csv.bz2", bz2.compress(b"a,b\n" * 100_000)[:-20]),
        ("t.csv.zst", zstandard.ZstdCompressor().compress(b"a,b\n" * 100_000)[:-8]),
    ],
)
def test_truncated_streams_stay_corrupt_compression(tmp_path: Path, name: str, data: bytes) -> None:
    with pytest.raises(CorruptCompression):
        run(tmp_path, name, data)


def test_concatenated_gzip_members_and_zstd_frames_are_all_read(tmp_path: Path) -> None:
    run(tmp_path, "two.csv.gz", gzip.compress(b"a\n1\n") + gzip.compress(b"2\n"))
    staged = run(
        tmp_path,
        "two.zst",
        zstandard.ZstdCompressor().compress(b"a\n1\n")
        + zstandard.ZstdCompressor().compress(b"2\n"),
    )
    assert (tmp_path / "staging" / "two").read_bytes() == b"a\n1\n2\n"
    assert staged
