"""Peak memory on the bad-file suite: each hostile input is loaded by the real data plane in a
child process with INGESTD_MEMORY_LIMIT=512MiB, and the child's peak RSS (its VmHWM; os.wait4's
rusage of that one child is checked to agree) must stay within the limit plus the reserve of
ingestd.dataplane.memory. Decompression bombs must fail with DECOMPRESSION_LIMIT; for the other
inputs the test asserts memory only (their error codes belong to the readers' tests)."""

from __future__ import annotations

import bz2
import io
import json
import os
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from ingestd.dataplane.memory import RESERVE_BYTES, budget_bytes

pytestmark = pytest.mark.slow

MEMORY_LIMIT = "512MiB"
MiB = 1 << 20
ZEROS = b"\0" * MiB

CHILD = r"""
import sys
from pathlib import Path
from ingestd.dataplane.contract import LoadRequest
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import UnitError

path, root, limit = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
table = TableSpec("demo", "t", (Column("a", ColumnType.STRING),), project="test")
warehouse = DuckDBDestination(root / "w.duckdb", memory_limit=limit, spill_dir=root / "spill")
warehouse.ensure_table(table)
request = LoadRequest("k", "u", "r", table, identity_mapping(table), (path,), (path.name,))
try:
    DataPlane(warehouse, root / "staging").load(request)
    outcome = "OK"
except UnitError as exc:
    outcome = exc.code
# VmHWM: this process's own peak RSS since exec (kB)
status = Path("/proc/self/status").read_text()
hwm = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
print(outcome, hwm)
"""


def _write_stream(path: Path, compress: Callable[[bytes], bytes], flush: bytes, mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(compress(ZEROS))
        out.write(flush)


def zstd_bomb(path: Path) -> None:  # 4 GiB of zeros in ~130 KB
    c = zstandard.ZstdCompressor(level=1).compressobj()
    _write_stream(path, c.compress, b"", 4096)
    with path.open("ab") as out:
        out.write(c.flush())


def gzip_bomb(path: Path) -> None:  # 1 GiB in ~1 MB
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    _write_stream(path, c.compress, b"", 1024)
    with path.open("ab") as out:
        out.write(c.flush())


def bz2_bomb(path: Path) -> None:
    c = bz2.BZ2Compressor(9)
    _write_stream(path, c.compress, b"", 512)
    with path.open("ab") as out:
        out.write(c.flush())


def zip_bomb(path: Path) -> None:
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("a.csv", "w", force_zip64=True) as member,
    ):
        for _ in range(1024):
            member.write(ZEROS)


def nested_zip(path: Path) -> None:
    inner = io.BytesIO()
    with (
        zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("a.csv", "w", force_zip64=True) as member,
    ):
        for _ in range(256):
            member.write(ZEROS)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for i in range(4):
            archive.writestr(f"inner{i}.zip", inner.getvalue())


def wide_csv(path: Path) -> None:  # 10,000 columns
    header = ",".join(f"c{i}" for i in range(10_000))
    row = ",".join("x" * 8 for _ in range(10_000))
    path.write_text(header + "\n" + "\n".join([row] * 200) + "\n")


def one_line(path: Path) -> None:  # 1 GB without a newline
    with path.open("wb") as out:
        chunk = b"a" * MiB
        for _ in range(1000):
            out.write(chunk)


def deep_json(path: Path) -> None:
    depth = 1_000_000
    path.write_text("[" * depth + "]" * depth + "\n" + json.dumps({"a": "x"}) + "\n")


BOMBS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "zstd 4 GiB": ("bomb.csv.zst", zstd_bomb),
    "gzip 1 GiB": ("bomb.csv.gz", gzip_bomb),
    "bz2 512 MiB": ("bomb.csv.bz2", bz2_bomb),
    "zip 1 GiB member": ("bomb.zip", zip_bomb),
}
OTHERS: dict[str, tuple[str, Callable[[Path], None]]] = {
    "nested zip": ("nested.zip", nested_zip),
    "10,000 columns": ("wide.csv", wide_csv),
    "1 GB single line": ("line.csv", one_line),
    "deep JSON nesting": ("deep.json", deep_json),
}


def load_in_child(path: Path, root: Path, limit: str = MEMORY_LIMIT) -> tuple[str, int]:
    """The child's outcome (OK or an error code) and its peak RSS in bytes, loading with the
    memory budget ``limit`` (bench/bad_file_memory.py measures the corpus at other budgets)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    log = root.parent / "child.err"
    with log.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(root), limit],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
        assert child.stdout is not None
        with child.stdout:
            out = child.stdout.read()
        # wait4, not wait: its rusage is this one child's (RUSAGE_CHILDREN of a lone child)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, log.read_text()[-2000:]
    outcome, hwm = out.decode().strip().splitlines()[-1].split()
    # Linux carries the forking parent's RSS into a child's ru_maxrss across exec, so rusage is
    # only an upper bound; the child's own VmHWM is its peak. Both must be within the bound
    # unless the parent (pytest) was itself bigger than the bound.
    assert int(hwm) * 1024 <= usage.ru_maxrss * 1024 or usage.ru_maxrss == 0
    return outcome, int(hwm) * 1024


BOUND = budget_bytes(MEMORY_LIMIT) + RESERVE_BYTES


@pytest.mark.parametrize("case", list(BOMBS), ids=list(BOMBS))
def test_a_bomb_fails_with_decompression_limit_within_the_memory_limit(
    tmp_path: Path, case: str
) -> None:
    name, make = BOMBS[case]
    make(tmp_path / name)
    outcome, peak = load_in_child(tmp_path / name, tmp_path / "plane")
    assert outcome == "DECOMPRESSION_LIMIT"
    assert peak <= BOUND, f"peak RSS {peak / MiB:.0f} MiB over {BOUND / MiB:.0f} MiB"


@pytest.mark.parametrize("case", list(OTHERS), ids=list(OTHERS))
def test_a_hostile_input_stays_within_the_memory_limit(tmp_path: Path, case: str) -> None:
    name, make = OTHERS[case]
    make(tmp_path / name)
    outcome, peak = load_in_child(tmp_path / name, tmp_path / "plane")
    assert outcome  # OK or an error code: the readers' tests own which
    assert peak <= BOUND, f"{outcome}: peak RSS {peak / MiB:.0f} MiB over {BOUND / MiB:.0f} MiB"
