"""A gzip file's limits are judged beside its reader (readers/gzip_judge.py): a verdict stops
the reader and is the error; a reader that finishes first still waits for the verdict.

The block stands for DuckDB's read: it does what the pipeline's statement would, wait to be
interrupted or end. The measuring pass, the meter and the files are the real ones.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest

from ingestd.dataplane.readers.decompress import DecompressionLimits, Meter
from ingestd.dataplane.readers.files import LocalFile, prepare
from ingestd.dataplane.readers.gzip_judge import judged_beside
from ingestd.domain.sources import Compression, DataFormat, ReadOptions
from ingestd.errors import Canceled, CorruptCompression, DecompressionLimit

WAIT = 60.0
"""Seconds the stand-in reader waits to be interrupted before the test fails."""


def _gzip_file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, compresslevel=6))
    return path


def _prepared(path: Path, limits: DecompressionLimits | None = None) -> LocalFile:
    [file] = prepare(path, path.name, ReadOptions(format=DataFormat.CSV), path.parent, limits)
    return file


def test_prepare_leaves_the_judging_of_a_gzip_file_to_its_reader(tmp_path: Path) -> None:
    bomb = _gzip_file(tmp_path, "bomb.csv.gz", b"a\n" + b"0" * (64 << 20))
    file = _prepared(bomb)  # no longer decodes it all before returning: no error here
    assert file.compression is Compression.GZIP
    assert file.meter is not None and file.meter.total == 0
    plain = tmp_path / "plain.csv"
    plain.write_text("a\n1\n")
    assert _prepared(plain).meter is None


def _read_until_interrupted(interrupted: threading.Event) -> None:
    """A reader still at work when the verdict comes, stopped by it."""
    if not interrupted.wait(WAIT):
        pytest.fail("the reader was never interrupted")
    raise Canceled("the unit was canceled while loading")  # what the pipeline then raises


def test_a_bomb_interrupts_the_reader_and_its_limit_is_the_error(tmp_path: Path) -> None:
    file = _prepared(_gzip_file(tmp_path, "bomb.csv.gz", b"a\n" + b"0" * (64 << 20)))
    interrupted = threading.Event()
    judged = judged_beside(file, interrupted.set)
    with pytest.raises(DecompressionLimit, match="INGESTD_MAX_COMPRESSION_RATIO"), judged:
        _read_until_interrupted(interrupted)
    assert interrupted.is_set()


def test_a_reader_that_ends_first_still_gets_the_verdict_on_a_truncated_file(
    tmp_path: Path,
) -> None:
    whole = gzip.compress(b"a\n" + b"1\n" * 500_000)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    file = _prepared(path)
    # DuckDB may read a cut gzip stream to its end without a word: the reader ends at once.
    with pytest.raises(CorruptCompression, match="truncated"), judged_beside(file, lambda: None):
        pass


def test_the_size_limit_counts_every_byte_even_after_the_reader_is_done(tmp_path: Path) -> None:
    limits = DecompressionLimits(max_bytes=1 << 20)
    file = _prepared(_gzip_file(tmp_path, "big.csv.gz", b"a\n" + b"12345\n" * 400_000), limits)
    judged = judged_beside(file, lambda: None)
    with pytest.raises(DecompressionLimit, match="INGESTD_MAX_DECOMPRESSED_BYTES"), judged:
        pass


def test_a_good_file_passes_and_its_meter_has_counted_all_of_it(tmp_path: Path) -> None:
    data = b"a\n" + b"12345\n" * 100_000
    file = _prepared(_gzip_file(tmp_path, "good.csv.gz", data))
    with judged_beside(file, lambda: pytest.fail("a good file is never interrupted")):
        pass
    assert isinstance(file.meter, Meter) and file.meter.total == len(data)


def test_the_block_own_error_stands_when_the_file_is_fine(tmp_path: Path) -> None:
    file = _prepared(_gzip_file(tmp_path, "good.csv.gz", b"a\n1\n"))
    with pytest.raises(ValueError, match="the reader's own"), judged_beside(file, lambda: None):
        raise ValueError("the reader's own error")


def test_a_pass_that_cannot_read_the_file_fails_the_block_rather_than_pass_it(
    tmp_path: Path,
) -> None:
    path = _gzip_file(tmp_path, "gone.csv.gz", b"a\n1\n")
    file = _prepared(path)
    path.unlink()  # judged or not, nothing unjudged goes through as judged
    with pytest.raises(FileNotFoundError), judged_beside(file, lambda: None):
        pass
