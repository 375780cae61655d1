"""Fixtures of the data plane tests: one warehouse per test, in its temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.warehouse import Warehouse

from .harness import Harness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    warehouse = Warehouse(tmp_path / "w.duckdb", memory_limit="512MB", spill_dir=tmp_path / "spill")
    try:
        yield Harness(tmp_path, warehouse, DataPlane(warehouse, tmp_path / "staging"))
    finally:
        warehouse.close()
