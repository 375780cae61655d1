"""How many columns one load may hold: checked before anything is read.

Each column a load stages costs DuckDB memory however few rows there are: a row group keeps a
block per column (256 KiB) while rows are inserted, and the readers keep a vector per column and
thread. A 10,000-column table ran a 256 MiB DuckDB budget out of memory with 200 rows; 500
columns loaded 20,000 rows in it. So a table may have at most one column per ``COLUMN_BYTES`` of
DuckDB's budget, and never more than ``INGESTD_MAX_COLUMNS``. An input file's own records are
only read (the columns a mapping does not use are never staged), which costs far less per column:
they are held to ``INGESTD_MAX_COLUMNS`` alone.
"""

from __future__ import annotations

from ingestd.dataplane.memory import budget_bytes
from ingestd.domain.tables import TableSpec
from ingestd.errors import TooManyColumns

DEFAULT_MAX_COLUMNS = 4096
COLUMN_BYTES = 512 * 1024
"""DuckDB memory one staged column is allowed (twice what was measured to be needed)."""


def check_file(name: str, fields: int, max_columns: int) -> None:
    """Refuse an input whose records have more fields than ``max_columns``."""
    if fields > max_columns:
        raise TooManyColumns(
            f"{name}: its records have {fields:,} fields, more than {max_columns:,} "
            "(the INGESTD_MAX_COLUMNS limit)",
            hint="split the file into narrower files, or raise INGESTD_MAX_COLUMNS",
        )


def table_limit(duckdb_budget: str, max_columns: int) -> int:
    """Most columns a target table may have under DuckDB's ``memory_limit`` value."""
    try:
        budget = budget_bytes(duckdb_budget)
    except ValueError:  # a size DuckDB spells in a unit we do not parse (TiB): no memory cap
        return max_columns
    return max(1, min(max_columns, budget // COLUMN_BYTES))


def check_table(table: TableSpec, duckdb_budget: str, max_columns: int) -> None:
    """Refuse a load into a table wider than ``table_limit``, naming the limit that binds."""
    limit = table_limit(duckdb_budget, max_columns)
    if len(table.columns) <= limit:
        return
    if limit == max_columns:
        which = "the INGESTD_MAX_COLUMNS limit"
        hint = "split the table, or raise INGESTD_MAX_COLUMNS"
    else:
        which = (
            f"what INGESTD_MEMORY_LIMIT allows: {duckdb_budget} for DuckDB, "
            f"{COLUMN_BYTES // 1024} KiB per column"
        )
        hint = "split the table, or raise INGESTD_MEMORY_LIMIT"
    raise TooManyColumns(
        f"table {table.qualified_name} has {len(table.columns):,} columns, more than a load "
        f"may hold: {limit:,} ({which})",
        hint=hint,
    )
