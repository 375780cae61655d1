"""The destination interface: where a load's rows, quarantined rows and ledger entry are written.

The data plane reads, maps, validates, dedupes and counts in DuckDB whatever the destination
(that is what makes it fast); a destination only says where that staging happens and writes
the staged result. Two implementations: ``destinations.duckdb.destination.DuckDBDestination``
(embedded DuckDB, stages in its own database) and
``destinations.postgres.destination.PostgresDestination`` (stages in a private DuckDB, writes to
PostgreSQL with COPY). Backend differences are declared here, not branched on by callers
(CONVENTIONS.md "Structure").

Every destination keeps the same bookkeeping: user tables carry ``_ingestd_load_key`` and
``_ingestd_day``; schema ``_ingestd`` holds ``ledger`` (one row per project and load key) and
``quarantine`` with the same columns everywhere, so a unit's rows, its quarantined rows and its
ledger entry commit in one destination transaction (DESIGN.md "Row accounting and
exactly-once").

Data per project (docs/security/data-per-project.md): a table lives in schema
``physical_schema(project, namespace)``, and every ledger and quarantine row carries its project;
every read of them filters by it. ``table_sql`` is the one place a table's SQL name is made.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from ingestd.dataplane.contract import Counts, FileResult, LoadRequest
from ingestd.domain.names import quote
from ingestd.domain.physical_names import physical_schema
from ingestd.domain.tables import Column, TableSpec
from ingestd.errors import InvalidInput, MalformedRecords

LOAD_KEY = "_ingestd_load_key"
DAY = "_ingestd_day"
QUARANTINE_COLUMNS = (
    "load_key",
    "unit_id",
    "run_id",
    "table_name",
    "file",
    "line",
    "record",
    "column_name",
    "code",
    "message",
    "raw",
)
"""Columns of ``_ingestd.quarantine`` a load writes (``id`` and ``quarantined_at`` are set by
the destination), in the order ``StagedLoad.quarantine_sql`` yields them."""


LAYOUT_VERSION = 2
"""The bookkeeping layout a destination writes (``_ingestd.layout``): 2 is data per project.
Version 1 (no marker table) kept tables in ``"<namespace>"`` schemas and no project column."""


def table_schema(table: TableSpec) -> str:
    """The (unquoted) schema that holds the table: its project's schema for its namespace."""
    if table.project is None:
        raise InvalidInput(
            f"table {table.qualified_name} belongs to no project, so no destination can hold it",
            hint="get the table from the catalog, which places it in its project",
        )
    return physical_schema(table.project, table.namespace)


def table_project(table: TableSpec) -> str:
    """The table's project (which ``table_schema`` checked is set)."""
    table_schema(table)
    assert table.project is not None
    return table.project


def table_sql(table: TableSpec) -> str:
    """The table's quoted, qualified name; the same in DuckDB and PostgreSQL."""
    return f"{quote(table_schema(table))}.{quote(table.name)}"


@dataclass(frozen=True)
class StagedLoad:
    """A load that is validated, deduplicated and counted, ready to be written.

    Both SELECTs are DuckDB SQL over the stage (tables of the staging cursor).
    """

    request: LoadRequest
    rows_sql: str
    """The final rows: ``_file`` (the input's index) then the table's columns in order. In
    upsert mode every primary key occurs once."""
    quarantine_sql: str
    """The rows to quarantine, with ``QUARANTINE_COLUMNS`` in that order, in insertion order."""
    fingerprint: str
    stream: RowStream | None = None
    """The destination's transaction that already holds the final rows sent while the load
    staged (``Destination.row_stream``); ``rows_sql`` then holds only the rest of them."""

    @property
    def table(self) -> TableSpec:
        return self.request.table


@dataclass(frozen=True)
class Unstorable:
    """Values that validation passes but a destination cannot store."""

    predicate: str
    """DuckDB SQL, true for such a value."""
    reason: str
    """Why, for the quarantine message."""


class RowStream(Protocol):
    """A destination transaction opened before the load stages, into which the final rows
    found so far are written while later rows still stage (``dataplane/rows_ahead.py``). The
    load's ``transaction`` continues it with the rest of the rows, the quarantine and the
    ledger entry, and commits it; until then nothing sent is visible."""

    @property
    def active(self) -> bool:
        """Whether rows may still be sent (not abandoned, not committed)."""
        ...

    def send(self, rows: pa.RecordBatch) -> None:
        """Write these final rows: the table's columns, in the table's order. Raises the
        destination's error (as ``transaction`` would) if the write failed."""
        ...

    def abandon(self) -> None:
        """Roll back everything sent; the load is then written by a transaction of its own
        once it is all staged, as if there had been no stream."""
        ...


WriteProgress = Callable[[int], None]
"""Called while rows are written, with the number written so far; may raise (e.g. Canceled),
which rolls the transaction back."""


class LoadTransaction(Protocol):
    """One open destination transaction for one staged load. It commits when its context ends
    normally and rolls back when the context ends with an exception, so a crash anywhere leaves
    the destination as it was."""

    def existing_by_file(self) -> dict[int, int]:
        """Upsert: per input index, final rows whose primary key the table already holds (they
        update). Holds the table's write lock, so the answer stays true until the commit."""
        ...

    def write(self, files: list[FileResult], total: Counts) -> int:
        """Replace what the load key (append), the day (replace_day) or the keys (upsert) held,
        insert the final rows, replace the load key's quarantine rows and write its ledger entry
        (a replay instead removes the replayed quarantine rows and adds to the entry). Returns
        the number of rows inserted into the table."""
        ...


class Destination(Protocol):
    """Where loads are written, plus the reads that callers above the data plane need."""

    def staging(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A DuckDB cursor for one load's temporary tables, held for the whole load (the DuckDB
        destination also serialises loads here: its file has one writer)."""
        ...

    def ensure_table(self, table: TableSpec) -> None:
        """Create the table, or add the columns it lacks (never drops or retypes columns)."""
        ...

    def unstorable(self, column: Column, value_sql: str) -> Unstorable | None:
        """Which valid values of ``column`` this destination cannot store (None: it stores them
        all). Checked only after the destination refused a load (``ValuesRefused``), so the
        common case costs nothing."""
        ...

    def row_stream(self, request: LoadRequest) -> AbstractContextManager[RowStream | None]:
        """A transaction to write ``request``'s final rows into while it still stages (its
        table's lock taken, what its load key or day held deleted), or None: this destination
        (or this request's mode) writes only once everything is staged, or the table is busy
        with another load (which this one then waits for only to write, as without a
        stream). Rolled back when the context ends unless ``transaction`` committed it."""
        ...

    def transaction(
        self, cur: duckdb.DuckDBPyConnection, load: StagedLoad, progress: WriteProgress
    ) -> AbstractContextManager[LoadTransaction]:
        """Open the transaction that commits ``load`` (see ``LoadTransaction``), or continue
        ``load.stream`` if it is active; ``progress`` hears of the rows written as they are."""
        ...

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a read-only query in the SQL that DuckDB and PostgreSQL share, with ``?``
        placeholders. JSON values come back as text, timestamps as naive UTC datetimes."""
        ...

    def bounded_query(
        self, sql: str, params: list[Any], *, timeout_seconds: float
    ) -> list[tuple[Any, ...]]:
        """Run a generated read-only query (a Kusto query, whose SQL bounds its rows with a
        LIMIT) in a read-only transaction, stopped after ``timeout_seconds`` with
        ``QueryTimedOut``. Same SQL and value conventions as ``query``."""
        ...

    def ledger_entry(self, project: str, load_key: str) -> dict[str, Any] | None:
        """The ledger row of ``project``'s ``load_key`` by column name (``files``, ``tags`` as
        JSON text)."""
        ...

    def tag_exists(self, table: TableSpec, tag: str, *, excluding_run: str | None = None) -> bool:
        """Whether any committed load into the table (of the table's project) carried ``tag``
        (Kusto ingest-by tags); ``excluding_run`` leaves out the loads of that run (the blobs of
        one operation)."""
        ...

    def table_exists(self, table: TableSpec) -> bool: ...

    def table_sql(self, table: TableSpec) -> str:
        """The table's name in this destination's SQL."""
        ...

    def close(self) -> None: ...


class ValuesRefused(MalformedRecords):
    """The destination refused a value that validation passed (e.g. PostgreSQL text cannot hold
    a NUL character). The data plane loads once more, quarantining what ``unstorable`` finds;
    raised to the caller only if the destination refuses that load too."""
