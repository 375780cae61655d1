"""Exactly-once under SIGKILL: a loader killed in the middle of a load leaves the destination as
it was, and rerunning the same load key gives what one clean load gives. Once per destination.

A child process loads generated CSV files (millions of rows into DuckDB, fewer into PostgreSQL,
whose kill points do not depend on timing) and reports through its progress callback that it
is mid-load; the test kills it with SIGKILL there: while it reads the second file, once
everything is staged, or while rows are being written (DuckDB: inserted, not committed;
PostgreSQL: in the middle of the COPY). Then it reopens the destination, checks it holds what
it held before, reruns the load to completion and compares with a clean single load.
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
from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec
from tests.unit.dataplane.harness import open_destination

pytestmark = pytest.mark.slow

ROWS_PER_FILE = {"duckdb": 1_500_000, "postgres": 300_000}
KEY = "crash-test/2024-05-01"
TABLE = TableSpec(
    "crash",
    "events",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("score", ColumnType.FLOAT64),
    ),
    project="test",
)

CHILD = """
import sys, time
from pathlib import Path

from ingestd.dataplane.contract import LoadRequest, Progress
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.destinations.postgres.destination import PostgresDestination
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec

root, url, marker, kill_point, *inputs = sys.argv[1:]
table = TableSpec(
    "crash",
    "events",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("score", ColumnType.FLOAT64),
    ),
    project="test",
)
spill = Path(root) / "spill"
if url == "-":
    warehouse = DuckDBDestination(Path(root) / "w.duckdb", memory_limit="512MB", spill_dir=spill)
else:
    warehouse = PostgresDestination(url, memory_limit="512MB", spill_dir=spill)
paths = tuple(Path(p) for p in inputs)


def progress(report: Progress) -> None:
    if kill_point == "while-reading" and report.files_done == 1:
        Path(marker).write_text("reading the second file")
    if kill_point == "after-staging" and report.files_done == report.files_total:
        Path(marker).write_text("staged, about to commit")
        time.sleep(600)
    if kill_point == "while-writing" and report.rows_written > 0:
        Path(marker).write_text("writing, not committed")
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


def _state(warehouse: Destination) -> State:
    [(rows, distinct)] = warehouse.query(
        "SELECT count(*), count(DISTINCT id) FROM test__crash.events"
    )
    entries = warehouse.query("SELECT fingerprint FROM _ingestd.ledger WHERE load_key = ?", [KEY])
    return State(rows, distinct, entries[0][0] if entries else None, len(entries))


def _generate(folder: Path, rows: int) -> tuple[Path, Path]:
    folder.mkdir()
    parts = (folder / "part-1.csv", folder / "part-2.csv")
    with duckdb.connect() as con:
        for index, part in enumerate(parts):
            start = index * rows
            con.execute(
                f"COPY (SELECT i AS id, 'name-' || i AS name, i / 8 AS score "
                f"FROM range({start}, {start + rows}) t(i)) TO '{part}' (HEADER)"
            )
    return parts


@dataclass(frozen=True)
class Target:
    kind: str
    url: str | None
    inputs: tuple[Path, Path]

    @property
    def rows_per_file(self) -> int:
        return ROWS_PER_FILE[self.kind]

    def open(self, root: Path, *, empty: bool = False) -> Destination:
        """The destination (a DuckDB file under ``root``, or the session's PostgreSQL database,
        emptied first if ``empty``)."""
        if self.kind == "duckdb" or empty:
            return open_destination(self.kind, root, self.url)
        from ingestd.dataplane.destinations.postgres.destination import PostgresDestination

        assert self.url is not None
        return PostgresDestination(self.url, memory_limit="512MB", spill_dir=root / "spill")


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Target:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    folder = tmp_path_factory.mktemp(f"crash-{request.param}") / "data"
    return Target(request.param, url, _generate(folder, ROWS_PER_FILE[request.param]))


def _load(warehouse: Destination, root: Path, inputs: tuple[Path, ...]) -> None:
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
def clean(target: Target, tmp_path_factory: pytest.TempPathFactory) -> State:
    """What one uninterrupted load gives."""
    root = tmp_path_factory.mktemp("clean")
    warehouse = target.open(root, empty=True)
    try:
        _load(warehouse, root, target.inputs)
        return _state(warehouse)
    finally:
        warehouse.close()


def _kill_mid_load(root: Path, target: Target, kill_point: str) -> None:
    marker = root / "marker"
    args = [str(root), target.url or "-", str(marker), kill_point, *map(str, target.inputs)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], stderr=subprocess.PIPE)
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


@pytest.fixture
def earlier(target: Target, clean: State, tmp_path: Path) -> State:
    """An earlier, smaller load of the same key, committed before the crash."""
    small = tmp_path / "small.csv"
    small.write_text("id,name,score\n1,earlier,1\n2,earlier,2\n")
    warehouse = target.open(tmp_path, empty=True)
    try:
        _load(warehouse, tmp_path, (small,))
        return _state(warehouse)
    finally:
        warehouse.close()  # the loader about to be killed opens it (DuckDB: one process)


@pytest.mark.parametrize("kill_point", ["while-reading", "after-staging", "while-writing"])
def test_sigkill_mid_load_then_rerun_is_exactly_once(
    tmp_path: Path, target: Target, clean: State, earlier: State, kill_point: str
) -> None:
    _kill_mid_load(tmp_path, target, kill_point)

    warehouse = target.open(tmp_path)
    try:
        after_crash = _state(warehouse)
        # Atomic: the killed load is wholly absent (or, had it committed in time, wholly there).
        assert after_crash in (earlier, clean)
        if kill_point != "while-reading" or not (tmp_path / "marker.done").exists():
            assert after_crash == earlier

        _load(warehouse, tmp_path, target.inputs)
        # The killed loader's scratch folder went when the rerun's data plane started.
        assert list((tmp_path / "staging").iterdir()) == []

        recovered = _state(warehouse)
        assert recovered == clean
        assert recovered.rows == recovered.distinct_ids == 2 * target.rows_per_file
        assert recovered.ledger_entries == 1
        assert warehouse.query(
            "SELECT count(*) FROM test__crash.events WHERE name = 'earlier'"
        ) == [(0,)]
    finally:
        warehouse.close()
