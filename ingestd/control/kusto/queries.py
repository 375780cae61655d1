"""Kusto queries over a project's own tables (issue #16 item 3; docs/kusto-queries.md).

A query names one table; it is resolved through the catalog of the caller's project only, and
read through the destination's own name for it (``Destination.table_sql``), so no query can
reach another project's data or ingestd's bookkeeping. Bounded in rows (``max_rows``; one more
is fetched to know whether the answer is truncated) and in time (``timeout_seconds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ingestd.control.catalog import Catalog
from ingestd.control.kusto import tables as kusto_tables
from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.queries.kql_sql import compile_query
from ingestd.domain.kql import parse_query
from ingestd.domain.kql.types import KqlType, ResultColumn


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[ResultColumn, ...]
    rows: list[tuple[Any, ...]]
    """Python values of the column's Kusto type: str, int, float, bool, naive UTC datetime,
    and JSON text for dynamic."""
    truncated: bool
    max_rows: int


@dataclass
class KustoQueries:
    catalog: Catalog
    destination: Destination
    max_rows: int
    timeout_seconds: float

    def run(self, project_id: int, database: str | None, csl: str) -> QueryResult:
        query = parse_query(csl)
        qualified = kusto_tables.require_table(
            self.catalog, project_id, kusto_tables.check_database(database), query.table
        )
        table = self.catalog.get_table(project_id, qualified)
        # A table created by .create table but never loaded has no destination table yet;
        # its first load would create it the same way, with the same columns.
        self.destination.ensure_table(table)
        compiled = compile_query(query, table, self.destination.table_sql(table), self.max_rows + 1)
        # A query past its bound raises QueryTimedOut (Kusto: Request_ExecutionTimeout).
        rows = self.destination.bounded_query(
            compiled.sql, compiled.params, timeout_seconds=self.timeout_seconds
        )
        truncated = len(rows) > self.max_rows
        kinds = [c.type for c in compiled.columns]
        values = [
            tuple(_value(v, k) for v, k in zip(row, kinds, strict=True))
            for row in rows[: self.max_rows]
        ]
        return QueryResult(compiled.columns, values, truncated, self.max_rows)


def _value(value: Any, kind: KqlType) -> Any:
    """One database value as its Kusto type's Python value (PostgreSQL's numeric aggregates
    come back as Decimal, DuckDB's dates as date, time-zone-aware values at UTC)."""
    if value is None:
        return None
    if kind is KqlType.DATETIME:
        if isinstance(value, datetime):
            return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
    if kind is KqlType.LONG and isinstance(value, (Decimal, float)):
        return int(value)
    if kind is KqlType.REAL and isinstance(value, (Decimal, int)):
        return float(value)
    return value
