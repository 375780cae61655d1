"""Exactly-once under SIGKILL: a loader killed in the middle of a load leaves the destination as
it was, and rerunning the same load key gives what one clean load gives.

A child process loads a few million generated CSV rows into a DuckDB warehouse and reports
through its progress callback that it is mid-load; the test kills it with SIGKILL there, reopens
the warehouse, reruns the load to completion and compares it with a clean single load into a
second warehouse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from ingestd.dataplane.contract import LoadRequest
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.warehouse import Warehouse
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec

pytestmark = pytest.mark.slow

ROWS_PER_FILE = 1_500_000
KEY = "crash-test/2024-05-01"
TABLE = TableSpec(
    "crash",
    "events",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("score", ColumnType.FLOAT64),
    ),
)

CHILD = """
import sys, time
from pathlib import Path

from ingestd.dataplane.contract import LoadRequest, Progress
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.warehouse import Warehouse
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec

root, marker, kill_point, *inputs = sys.argv[1:]
table = TableSpec(
    "crash",
    "events",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("score", ColumnType.FLOAT64),
    ),
)
warehouse = Warehouse(Path(root) / "w.duckdb", memory_limit="1GB", spill_dir=Path(root) / "spill")
paths = tuple(Path(p) for p in inputs)


def progress(report: Progress) -> None:
    if kill_point == "while-reading" and report.files_done == 1:
        Path(marker).write_text("reading the second file")
    if kill_point == "after-staging" and report.files_done == report.files_total:
        Path(marker).write_text("staged, about to commit")
        time.sleep(600)


request = LoadRequest(
    KEY, "unit-1", "run-1", table, identity_mapping(table), paths, tuple(p.name for p in paths)
)
DataPlane(warehouse, Path(root) / "staging").load(request, progress=progress)
Path(marker + ".done").write_text("committed")
""".replace("KEY", repr(KEY))


@dataclass(frozen=True)
class State:
    rows: int
    distinct_ids: int
    fingerprint: str | None
    ledger_entries: int


def _state(warehouse: Warehouse) -> State:
    [(rows, distinct)] = warehouse.query("SELECT count(*), count(DISTINCT id) FROM crash.events")
    entries = warehouse.query("SELECT fingerprint FROM _ingestd.ledger WHERE load_key = ?", [KEY])
    return State(rows, distinct, entries[0][0] if entries else None, len(entries))


def _generate(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    parts = (folder / "part-1.csv", folder / "part-2.csv")
    with duckdb.connect() as con:
        for index, part in enumerate(parts):
            start = index * ROWS_PER_FILE
            con.execute(
                f"COPY (SELECT i AS id, 'name-' || i AS name, i / 8 AS score "
                f"FROM range({start}, {start + ROWS_PER_FILE}) t(i)) TO '{part}' (HEADER)"
            )
    return parts


def _open(root: Path) -> Warehouse:
    return Warehouse(root / "w.duckdb", memory_limit="1GB", spill_dir=root / "spill")


def _load(warehouse: Warehouse, root: Path, inputs: tuple[Path, ...]) -> None:
    request = LoadRequest(
        KEY,
        "unit-1",
        "run-1",
        TABLE,
        identity_mapping(TABLE),
        inputs,
        tuple(p.name for p in inputs),
    )
    result = DataPlane(warehouse, root / "staging").load(request)
    assert result.counts.balanced


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _generate(tmp_path_factory.mktemp("crash") / "data")


@pytest.fixture(scope="module")
def clean(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> State:
    """What one uninterrupted load gives."""
    root = tmp_path_factory.mktemp("clean")
    warehouse = _open(root)
    try:
        _load(warehouse, root, inputs)
        return _state(warehouse)
    finally:
        warehouse.close()


def _kill_mid_load(root: Path, inputs: tuple[Path, Path], kill_point: str) -> None:
    marker = root / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), str(marker), kill_point, *map(str, inputs)],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            if child.poll() is not None:
                errors = child.stderr.read() if child.stderr else b""
                pytest.fail(f"the loader ended before the kill point: {errors!r}")
            if time.monotonic() > deadline:
                pytest.fail("the loader never reached the kill point")
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stderr is not None:
            child.stderr.close()


@pytest.mark.parametrize("kill_point", ["while-reading", "after-staging"])
def test_sigkill_mid_load_then_rerun_is_exactly_once(
    tmp_path: Path, inputs: tuple[Path, Path], clean: State, kill_point: str
) -> None:
    # An earlier, smaller load of the same key is committed before the crash.
    small = tmp_path / "small.csv"
    small.write_text("id,name,score\n1,earlier,1\n2,earlier,2\n")
    warehouse = _open(tmp_path)
    _load(warehouse, tmp_path, (small,))
    before = _state(warehouse)
    warehouse.close()

    _kill_mid_load(tmp_path, inputs, kill_point)

    warehouse = _open(tmp_path)
    try:
        after_crash = _state(warehouse)
        # Atomic: the killed load is wholly absent (or, had it committed in time, wholly there).
        assert after_crash in (before, clean)
        if kill_point == "after-staging" or not (tmp_path / "marker.done").exists():
            assert after_crash == before

        _load(warehouse, tmp_path, inputs)

        recovered = _state(warehouse)
        assert recovered == clean
        assert recovered.rows == recovered.distinct_ids == 2 * ROWS_PER_FILE
        assert recovered.ledger_entries == 1
        assert warehouse.query("SELECT count(*) FROM crash.events WHERE name = 'earlier'") == [(0,)]
    finally:
        warehouse.close()
