"""Scratch folders left by a killed process are removed by the next data plane; others stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingestd.dataplane import scratch
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.pipeline import DataPlane


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_owners_folders_go_and_the_rest_stay(tmp_path: Path) -> None:
    root = tmp_path / "staging"
    dead = _dead_pid()
    orphans = [root / f"unit-{dead}-{'a' * 32}", root / f"replay-{dead}-{'b' * 32}"]
    mine = scratch.new_folder(root, "unit")
    foreign = [root / "retained", root / f"extract-{dead}", root / f"unit-{dead}-not-ours"]
    for folder in [*orphans, *foreign]:
        folder.mkdir(parents=True)
        (folder / "part.csv").write_text("a\n")

    warehouse = DuckDBDestination(
        tmp_path / "w.duckdb", memory_limit="256MB", spill_dir=tmp_path / "s"
    )
    try:
        DataPlane(warehouse, root)
    finally:
        warehouse.close()

    assert not any(folder.exists() for folder in orphans)
    assert mine.is_dir() and mine.name.startswith(f"unit-{os.getpid()}-")
    assert all((folder / "part.csv").exists() for folder in foreign)


def test_no_staging_root_yet_is_nothing_to_remove(tmp_path: Path) -> None:
    assert scratch.remove_orphans(tmp_path / "absent") == []
