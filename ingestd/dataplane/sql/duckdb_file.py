"""DuckDB database files, queried in a sandbox: the host's file system stays closed.

The connection opens only the configured database file, read-only, with external access
disabled (no ``read_csv``/``glob``/``read_blob``/``COPY ... TO``/``ATTACH`` of any other path,
no extension install or load) and its configuration locked (``SET`` cannot reopen it). Before it
runs, the query must be exactly one SELECT statement (``extract_statements``); anything else is
refused. The result streams out as Arrow record batches into a ``ParquetSink`` in this process,
so DuckDB itself writes no file and memory holds at most a row group. Canceling interrupts the
running query.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    database_file,
    first_line,
    interruptible,
    query_failed,
    refused_statement,
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import stage_batches
from ingestd.errors import UnitError

BATCH_ROWS = 65_536

SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "lock_configuration": True,
}
"""Connect-time settings of every source connection (``lock_configuration`` last: once set,
no statement can change any of them)."""


def translate(query: SourceQuery, exc: duckdb.Error, database: Path) -> UnitError:
    """DuckDB's errors: a file it cannot open is unreachable, anything else is the query's."""
    if isinstance(exc, duckdb.IOException):
        return unreachable(query, str(database), first_line(exc))
    return query_failed(query, first_line(exc))


def check_single_select(query: SourceQuery, con: duckdb.DuckDBPyConnection) -> None:
    """Refuse anything but exactly one SELECT statement, before it runs."""
    statements = con.extract_statements(query.sql)
    if len(statements) != 1:
        raise refused_statement(query, f"{len(statements)} statements")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise refused_statement(query, f"a {kind.name} statement")


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    database = database_file(query)
    target = target_dir / "result.parquet"
    # A query larger than memory spills into the unit's own staging folder, nowhere else.
    config = {**SANDBOX_CONFIG, "temp_directory": str(target_dir / "duckdb-spill")}
    try:
        with (
            duckdb.connect(str(database), read_only=True, config=config) as con,
            interruptible(query, con.interrupt),
        ):
            check_single_select(query, con)
            relation = con.sql(query.sql)
            if query.row_limit is not None:
                relation = relation.limit(query.row_limit)  # a preview: pushed into the plan
            reader = relation.to_arrow_reader(BATCH_ROWS)
            return stage_batches(query, target, reader.schema, reader)
    except duckdb.Error as exc:
        raise translate(query, exc, database) from exc
