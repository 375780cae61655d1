"""DuckDB database files: DuckDB's own streaming ``COPY (query) TO ... (FORMAT parquet)``.

DuckDB writes the result typed and in bounded memory, faster than any Arrow round trip. The
file is opened read-only; canceling interrupts the running COPY.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestd.dataplane.coerce import sql_literal
from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    database_file,
    first_line,
    interruptible,
    query_failed,
    unreachable,
)
from ingestd.domain.sources import DataFormat
from ingestd.errors import UnitError


def translate(query: SourceQuery, exc: duckdb.Error, database: Path) -> UnitError:
    """DuckDB's errors: a file it cannot open is unreachable, anything else is the query's."""
    if isinstance(exc, duckdb.IOException):
        return unreachable(query, str(database), first_line(exc))
    return query_failed(query, first_line(exc))


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    database = database_file(query)
    target = target_dir / "result.parquet"
    try:
        with (
            duckdb.connect(str(database), read_only=True) as con,
            interruptible(query, con.interrupt),
        ):
            con.execute(f"COPY ({query.bare_sql}) TO {sql_literal(str(target))} (FORMAT parquet)")
    except duckdb.Error as exc:
        raise translate(query, exc, database) from exc
    return Extracted(target, DataFormat.PARQUET, f"{query.connection}: query result")
