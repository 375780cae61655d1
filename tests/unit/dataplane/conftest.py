"""Fixtures of the data plane tests: one destination per test, DuckDB and PostgreSQL.

Every test that takes ``harness`` runs once per destination (ids ``duckdb`` and ``postgres``):
staging, validation and counting are the same DuckDB code for both, and the PostgreSQL run
checks that what reaches the table, the quarantine and the ledger is the same too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.pipeline import DataPlane

from .harness import Harness, open_destination, skip_commit_flush

DESTINATIONS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def fast_postgres_url(postgres_url: str) -> str:
    """The session's database, with commits that do not wait for the disk."""
    skip_commit_flush(postgres_url)
    return postgres_url


@pytest.fixture(params=DESTINATIONS)
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Destination]:
    """An empty destination of each kind."""
    url = request.getfixturevalue("fast_postgres_url") if request.param == "postgres" else None
    warehouse = open_destination(request.param, tmp_path, url)
    try:
        yield warehouse
    finally:
        warehouse.close()


@pytest.fixture
def harness(destination: Destination, tmp_path: Path) -> Harness:
    return Harness(tmp_path, destination, DataPlane(destination, tmp_path / "staging"))
