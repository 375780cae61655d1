"""The process budget is split: DuckDB's buffers get it less the reserve for the rest."""

from __future__ import annotations

import duckdb
import pytest

from ingestd.dataplane.memory import budget_bytes, duckdb_memory_limit


@pytest.mark.parametrize(
    ("budget", "expected"),
    [("1GB", 10**9), ("512MB", 512 * 10**6), ("2GiB", 2 * 1024**3), ("1.5 gb", 15 * 10**8)],
)
def test_budgets_read_as_duckdb_reads_them(budget: str, expected: int) -> None:
    assert budget_bytes(budget) == expected


def test_duckdb_gets_the_budget_less_the_reserve() -> None:
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{duckdb_memory_limit('1GB')}'")
    [(shown,)] = con.execute("SELECT current_setting('memory_limit')").fetchall()
    assert shown == "697.6 MiB"  # (10**9 - RESERVE_BYTES) rounded down to KiB


def test_a_small_budget_is_halved_not_overdrawn() -> None:
    assert budget_bytes(duckdb_memory_limit("256MB")) == 128 * 10**6 // 1024 * 1024


def test_a_malformed_budget_names_itself() -> None:
    with pytest.raises(ValueError, match="'lots'"):
        budget_bytes("lots")
