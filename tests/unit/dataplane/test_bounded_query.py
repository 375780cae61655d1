"""Destination.bounded_query on the embedded DuckDB destination: a query past its time bound
is stopped (QueryTimedOut), the connection stays usable, and the transaction is read only."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.errors import DestinationError, InvalidInput, QueryTimedOut

ENDLESS = "SELECT sum(a.range * b.range % 7) FROM range(100000000) a, range(100000000) b"
"""10^16 rows: no machine finishes it, so only the interrupt can end it."""


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBDestination:
    return DuckDBDestination(
        tmp_path / "w.duckdb", memory_limit="256MB", spill_dir=tmp_path / "spill"
    )


def test_a_query_past_its_bound_is_stopped(warehouse: DuckDBDestination) -> None:
    with pytest.raises(QueryTimedOut, match=r"longer than 0\.2 seconds"):
        warehouse.bounded_query(ENDLESS, [], timeout_seconds=0.2)
    assert warehouse.bounded_query("SELECT CAST(? AS BIGINT) + 1", [41], timeout_seconds=5) == [
        (42,)
    ]


def test_the_transaction_is_read_only(warehouse: DuckDBDestination) -> None:
    with pytest.raises(DestinationError):
        warehouse.bounded_query("CREATE TABLE t (a INTEGER)", [], timeout_seconds=5)
    assert warehouse.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'"
    ) == [(0,)]


def test_a_value_error_is_the_callers(warehouse: DuckDBDestination) -> None:
    with pytest.raises(InvalidInput, match="failed on a value"):
        warehouse.bounded_query("SELECT CAST(? AS BIGINT) * 2", [2**62], timeout_seconds=5)
