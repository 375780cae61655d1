"""Inputs and tables too wide to load fail fast with TOO_MANY_COLUMNS (Permanent), naming the
limit and the column count, instead of running DuckDB out of memory
(ingestd.dataplane.readers.width)."""

from __future__ import annotations

import pytest

from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.error_codes import kusto_error_code, statsig_daily_error_status
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import FailureClass, TooManyColumns

from .harness import PEOPLE, PEOPLE_BY_NAME, Count, Harness, count_of


def _wide(columns: int) -> TableSpec:
    return TableSpec(
        "demo",
        "wide",
        tuple(Column(f"c{i}", ColumnType.STRING) for i in range(columns)),
        project="test",
    )


def test_a_csv_with_more_fields_than_the_limit_fails_before_it_is_read(harness: Harness) -> None:
    header = "id,name,score," + ",".join(f"x{i}" for i in range(9_997))
    path = harness.write("wide.csv", header + "\n" + "1,Ann,1" + "," * 9_997 + "\n")

    with pytest.raises(TooManyColumns) as caught:
        harness.load(PEOPLE, PEOPLE_BY_NAME, path)

    error = caught.value
    assert error.code == "TOO_MANY_COLUMNS"
    assert error.failure_class is FailureClass.PERMANENT
    assert kusto_error_code(error.code) == "BadRequest_FileTooLarge"
    assert statsig_daily_error_status(error.code, "Events") == "BULK_LOAD_ERROR"
    assert error.message == (
        "wide.csv: its records have 10,000 fields, more than 4,096 (the INGESTD_MAX_COLUMNS limit)"
    )
    assert harness.ledger() == []


def test_the_file_limit_is_the_setting(harness: Harness) -> None:
    harness.plane = DataPlane(harness.warehouse, harness.root / "staging2", max_columns=3)
    ok = harness.write("ok.csv", "id,name,score\n1,Ann,1\n")
    wide = harness.write("wide.csv", "id,name,score,extra\n2,Bob,2,x\n")

    assert count_of(harness.load(PEOPLE, PEOPLE_BY_NAME, ok).counts) == Count(1, 1, 0, 0, 0)
    with pytest.raises(TooManyColumns, match=r"4 fields, more than 3 \(the INGESTD_MAX_COLUMNS"):
        harness.load(PEOPLE, PEOPLE_BY_NAME, wide, key="k2")


def test_a_table_wider_than_the_memory_budget_allows_fails_naming_it(harness: Harness) -> None:
    # The harness's 512 MB budget gives DuckDB 512 MB - 256 MiB = 244.1 MiB: 488 columns.
    table = _wide(600)
    path = harness.write("t.csv", ",".join(f"c{i}" for i in range(600)) + "\n" + "a" * 600 + "\n")

    with pytest.raises(TooManyColumns) as caught:
        harness.load(table, identity_mapping(table), path)

    assert caught.value.message.startswith(
        "table demo.wide has 600 columns, more than a load may hold: 488 (what "
        "INGESTD_MEMORY_LIMIT allows: 244.1 MiB for DuckDB, 512 KiB per column)"
    )
    assert "raise INGESTD_MEMORY_LIMIT" in str(caught.value)


def test_a_table_within_the_budget_loads(harness: Harness) -> None:
    table = _wide(480)
    header = ",".join(f"c{i}" for i in range(480))
    row = ",".join("v" for _ in range(480))
    path = harness.write("t.csv", header + "\n" + "\n".join([row] * 50) + "\n")

    result = harness.load(table, identity_mapping(table), path)

    assert count_of(result.counts) == Count(read=50, inserted=1, updated=0, rejected=49, errors=0)
