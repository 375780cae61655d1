"""A load harness for data plane tests: a destination (DuckDB in a temporary folder, or an emptied
PostgreSQL database), fixture files written from code, and the accounting that every load must
satisfy (DESIGN.md "Row accounting").

``Harness.load`` checks, after every successful load, that each file and the total balance
(``read = inserted + updated + rejected + errors``), that every error row of every file is in the
quarantine, and that the ledger records the same counts: a test cannot forget to check that
nothing was silently dropped.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from ingestd.dataplane.contract import (
    CancelToken,
    Counts,
    LoadRequest,
    LoadResult,
    Progress,
    ProgressCallback,
)
from ingestd.dataplane.destinations import ledger
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.destinations.interface import LOAD_KEY, Destination, table_sql
from ingestd.dataplane.destinations.postgres.destination import (
    PostgresDestination,
    psycopg_conninfo,
)
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.mapping import Mapping, identity_mapping
from ingestd.domain.sources import ErrorPolicy, LoadMode, ReadOptions
from ingestd.domain.tables import Column, ColumnType, TableSpec

Row = tuple[Any, ...]

PEOPLE = TableSpec(
    "demo",
    "people",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("score", ColumnType.FLOAT64),
    ),
    project="test",
)
PEOPLE_BY_NAME = identity_mapping(PEOPLE)
PEOPLE_ROWS: list[Row] = [
    (1, "Ann", 1.5),
    (2, "Bob, Jr.", -2.25),
    (3, 'Zoë "Z" Ü', None),
]
"""Rows that exercise the delimiter, the quote and non-ASCII text, in id order."""


def open_destination(kind: str, root: Path, postgres_url: str | None = None) -> Destination:
    """A new, empty destination: a DuckDB file under ``root``, or the PostgreSQL database at
    ``postgres_url`` emptied of everything but its ``public`` schema (the metadata store's)."""
    spill = root / "spill"
    if kind == "duckdb":
        return DuckDBDestination(root / "w.duckdb", memory_limit="512MB", spill_dir=spill)
    assert postgres_url is not None
    empty_postgres(postgres_url)
    return PostgresDestination(postgres_url, memory_limit="512MB", spill_dir=spill)


def empty_postgres(url: str) -> None:
    """Drop the schemas of user tables and empty ``_ingestd`` (cheaper than dropping it: DDL is
    what costs in PostgreSQL, and every data plane test starts here)."""
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn, conn.transaction():
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN "
            "('public', 'information_schema', '_ingestd') AND nspname NOT LIKE 'pg\\_%'"
        ).fetchall()
        if schemas:
            names = ", ".join(f'"{schema}"' for (schema,) in schemas)
            conn.execute(f"DROP SCHEMA {names} CASCADE")
        [(bookkeeping,)] = conn.execute("SELECT to_regclass('_ingestd.quarantine') IS NOT NULL")
        if bookkeeping:
            conn.execute("TRUNCATE _ingestd.ledger, _ingestd.quarantine RESTART IDENTITY")


def skip_commit_flush(url: str) -> None:
    """Commits in this (throw-away) database return before the disk flush; a server crash could
    lose the last ones, which tests do not care about, and a commit costs no fsync wait."""
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


class QuarantineRow(NamedTuple):
    file: str
    line: int | None
    record: int | None
    column: str | None
    code: str
    message: str
    raw: str | None


class Count(NamedTuple):
    """A ``Counts`` as a comparable tuple: (read, inserted, updated, rejected, errors)."""

    read: int
    inserted: int
    updated: int
    rejected: int
    errors: int


def count_of(counts: Counts) -> Count:
    return Count(counts.read, counts.inserted, counts.updated, counts.rejected, counts.errors)


@dataclass
class Harness:
    root: Path
    warehouse: Destination
    plane: DataPlane

    def write(self, name: str, content: str | bytes, *, encoding: str = "utf-8") -> Path:
        path = self.root / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
        return path

    def request(
        self,
        table: TableSpec,
        mapping: Mapping,
        *inputs: Path,
        key: str = "k1",
        names: tuple[str, ...] | None = None,
        options: ReadOptions | None = None,
        mode: LoadMode = LoadMode.APPEND,
        day: date | None = None,
        policy: ErrorPolicy | None = None,
        empty_is_error: bool = False,
    ) -> LoadRequest:
        return LoadRequest(
            load_key=key,
            unit_id=f"unit-{key}",
            run_id="run-1",
            table=table,
            mapping=mapping,
            inputs=inputs,
            input_names=names if names is not None else tuple(p.name for p in inputs),
            read_options=options or ReadOptions(),
            mode=mode,
            day=day,
            error_policy=policy or ErrorPolicy(),
            empty_is_error=empty_is_error,
        )

    def load(
        self,
        table: TableSpec,
        mapping: Mapping,
        *inputs: Path,
        key: str = "k1",
        names: tuple[str, ...] | None = None,
        options: ReadOptions | None = None,
        mode: LoadMode = LoadMode.APPEND,
        day: date | None = None,
        policy: ErrorPolicy | None = None,
        empty_is_error: bool = False,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> LoadResult:
        """Load and check the accounting (see the module docstring)."""
        request = self.request(
            table,
            mapping,
            *inputs,
            key=key,
            names=names,
            options=options,
            mode=mode,
            day=day,
            policy=policy,
            empty_is_error=empty_is_error,
        )
        result = self.plane.load(request, progress=progress, cancel=cancel)
        check_accounting(self.warehouse, result, table.project or "test")
        if isinstance(self.warehouse, DuckDBDestination):
            # The fingerprint is taken from the staged hashes; it must be the one a replay
            # computes over the table's rows of the load (DuckDB's hash, so DuckDB only).
            columns = [f'"{c.name}"' for c in table.columns]
            [row] = self.warehouse.query(
                f"SELECT {ledger.fingerprint_sql(columns)} FROM {table_sql(table)} "
                f"WHERE {LOAD_KEY} = ?",
                [key],
            )
            assert ledger.fingerprint(row) == result.fingerprint
        return result

    def rows(self, table: TableSpec, *, where: str = "true") -> list[Row]:
        """The table's own columns, sorted by all of them (NULLs last)."""
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        return self.warehouse.query(
            f"SELECT {columns} FROM {table_sql(table)} WHERE {where} ORDER BY {columns} NULLS LAST"
        )

    def count(self, table: TableSpec) -> int:
        (n,) = self.warehouse.query(f"SELECT count(*) FROM {table_sql(table)}")[0]
        return int(n)

    def quarantine(self, key: str | None = None) -> list[QuarantineRow]:
        where, params = ("load_key = ?", [key]) if key is not None else ("true", [])
        return [
            QuarantineRow(*row)
            for row in self.warehouse.query(
                "SELECT file, line, record, column_name, code, message, raw "
                f"FROM _ingestd.quarantine WHERE {where} ORDER BY id",
                params,
            )
        ]

    def ledger(self) -> list[dict[str, Any]]:
        keys = [str(k) for (k,) in self.warehouse.query("SELECT load_key FROM _ingestd.ledger")]
        return [entry for k in sorted(keys) if (entry := self.warehouse.ledger_entry("test", k))]


def cancel_after_the_first_file(
    token: CancelToken, seen: list[Progress] | None = None
) -> ProgressCallback:
    """A progress callback that cancels ``token`` once the first file is read (and keeps what
    it hears in ``seen``)."""

    def hear(progress: Progress) -> None:
        if seen is not None:
            seen.append(progress)
        if progress.files_done == 1:
            token.cancel()

    return hear


def check_accounting(warehouse: Destination, result: LoadResult, project: str = "test") -> None:
    """Every file balances, the total is their sum, every error row is quarantined, and the
    ledger holds the same numbers."""
    total = Counts()
    for file in result.files:
        assert file.counts.balanced, f"{file.name} does not balance: {file.counts}"
        total.add(file.counts)
    assert count_of(total) == count_of(result.counts)
    assert result.counts.balanced
    quarantined = Counter(
        {
            str(name): int(n)
            for name, n in warehouse.query(
                "SELECT file, count(*) FROM _ingestd.quarantine WHERE project = ? AND load_key = ? "
                "GROUP BY file",
                [project, result.load_key],
            )
        }
    )
    errors = Counter[str]()
    for file in result.files:
        if file.counts.errors:
            errors[file.name] += file.counts.errors
    assert quarantined == errors, "each error row must be in the quarantine, and only those"
    entry = warehouse.ledger_entry(project, result.load_key)
    assert entry is not None
    ledger = Count(
        entry["read"], entry["inserted"], entry["updated"], entry["rejected"], entry["errors"]
    )
    assert ledger == count_of(result.counts)
    assert entry["fingerprint"] == result.fingerprint
    assert [f["name"] for f in json.loads(entry["files"])] == [f.name for f in result.files]


def csv_text(header: list[str] | None, rows: list[Row], *, delimiter: str = ",") -> str:
    """Plain CSV with ``"`` quoting where needed, ``None`` as an empty field."""

    def field(value: Any) -> str:
        text = "" if value is None else str(value)
        if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
            return '"' + text.replace('"', '""') + '"'
        return text

    lines = [delimiter.join(header)] if header is not None else []
    lines += [delimiter.join(field(v) for v in row) for row in rows]
    return "".join(line + "\n" for line in lines)


def ndjson_text(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
