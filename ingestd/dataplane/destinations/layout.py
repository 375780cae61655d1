"""The destination's bookkeeping layout: create it, or upgrade the one before data per project.

Layout 1 (no ``_ingestd.layout`` table) kept user tables in ``"<namespace>"`` schemas, shared by
every project, and ``_ingestd.ledger`` / ``_ingestd.quarantine`` without a project. Layout 2
(``LAYOUT_VERSION``) keeps each project's tables in ``physical_schema(project, namespace)`` and a
``project`` on every ledger and quarantine row (docs/security/data-per-project.md).

``prepare`` runs when a destination opens, inside one destination transaction: a fresh
destination gets layout 2; a layout-1 one is upgraded, nothing lost. Each row of a user table goes
to the project whose ledger entry loaded it (its ``_ingestd_load_key`` → the entry's ``run_id`` →
that run's project, from ``RunOwners``); rows no project's entry claims (no entry, or a run the
metadata store does not know) go to schema ``LEGACY_SCHEMA``, and their ledger and quarantine
rows to project ``LEGACY_SCHEMA`` (not a valid project name, so no project ever reads them).
The marker table (``MARKER``) makes a second start do nothing. The SQL is what DuckDB and
PostgreSQL share; what differs is declared by the destination in ``LayoutDialect``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingestd.dataplane.destinations.interface import LAYOUT_VERSION, LOAD_KEY
from ingestd.domain.names import quote
from ingestd.domain.physical_names import LEGACY_SCHEMA, MAX_IDENTIFIER_BYTES, physical_schema
from ingestd.domain.run_owners import RunOwnersSource
from ingestd.errors import AccountingMismatch, DestinationError

log = logging.getLogger("ingestd")

LEGACY_PROJECT = LEGACY_SCHEMA
"""The project of ledger and quarantine rows that no known run owns after an upgrade."""

Run = Callable[[str, list[Any]], list[tuple[Any, ...]]]
"""Runs one statement (``?`` placeholders) in the open transaction; returns its rows."""

MARKER = f"layout_v{LAYOUT_VERSION}"
"""The marker of layout 2: a table in ``_ingestd`` named after the version (its existence is
the version, so reading it takes no privilege on it)."""
_MARKER_TABLE = f"CREATE TABLE _ingestd.{MARKER} (upgraded BOOLEAN)"


@dataclass(frozen=True)
class LayoutDialect:
    """What a destination's SQL needs for the layout that the shared SQL cannot say."""

    schema: str
    """The layout-2 DDL of schema ``_ingestd`` (``IF NOT EXISTS`` throughout)."""
    text_type: str
    """The type of the ``project`` column."""
    exists_sql: str
    """A query that returns a row when the table named by its two parameters (schema, table)
    exists."""
    bookkeeping_keys: tuple[str, ...]
    """Statements that give an upgraded ledger and quarantine layout 2's keys and indexes
    (after ``project`` is filled in)."""


@dataclass(frozen=True)
class UpgradeReport:
    """What an upgrade moved: rows per (project, namespace.table), and rows kept as legacy."""

    moved: dict[tuple[str, str], int]
    legacy: dict[str, int]


def _exists(run: Run, dialect: LayoutDialect, schema: str, table: str) -> bool:
    return bool(run(dialect.exists_sql, [schema, table]))


def current(run: Run, dialect: LayoutDialect) -> bool:
    """Whether the destination has layout 2 already (the usual start: one cheap query, which
    needs no privilege on the bookkeeping tables: a role that may only load can start)."""
    return _exists(run, dialect, "_ingestd", MARKER)


def prepare(
    run: Run, dialect: LayoutDialect, owners: RunOwnersSource | None
) -> UpgradeReport | None:
    """Give the destination layout 2, inside the caller's transaction (see the module
    docstring). Returns what an upgrade moved, or None when there was nothing to upgrade."""
    if current(run, dialect):
        return None
    if not _exists(run, dialect, "_ingestd", "ledger"):
        for statement in _statements(dialect.schema):
            run(statement, [])
        run(_MARKER_TABLE, [])
        return None
    if owners is None:
        raise DestinationError(
            "the destination has the layout from before data per project, and no run owners "
            "were given to upgrade it",
            hint="open it through ingestd (serve, run or any command), which upgrades it",
        )
    report = _upgrade(run, dialect, owners)
    run(_MARKER_TABLE, [])
    return report


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _upgrade(run: Run, dialect: LayoutDialect, owners_of: RunOwnersSource) -> UpgradeReport:
    owners = owners_of()
    # Columns first: DuckDB refuses to alter a table that this transaction already changed.
    for table in ("ledger", "quarantine"):
        run(f"ALTER TABLE _ingestd.{table} ADD COLUMN project {dialect.text_type}", [])
    runs = [r for (r,) in run("SELECT DISTINCT run_id FROM _ingestd.ledger", [])]
    runs += [r for (r,) in run("SELECT DISTINCT run_id FROM _ingestd.quarantine", [])]
    for run_id in sorted({r for r in runs if r is not None}):
        project = owners.project_of(str(run_id))
        if project is not None:
            # The metadata checked the name when the project was made; a name no schema can
            # hold stops the upgrade here, before anything moved.
            physical_schema(project, "x")
            run("UPDATE _ingestd.ledger SET project = ? WHERE run_id = ?", [project, run_id])
    run("UPDATE _ingestd.ledger SET project = ? WHERE project IS NULL", [LEGACY_PROJECT])
    # A quarantine row belongs to the load that kept it (the load key was unique before).
    run(
        "UPDATE _ingestd.quarantine AS q SET project = (SELECT l.project FROM _ingestd.ledger l "
        "WHERE l.load_key = q.load_key)",
        [],
    )
    for run_id in sorted({r for r in runs if r is not None}):
        project = owners.project_of(str(run_id))
        if project is not None:
            run(
                "UPDATE _ingestd.quarantine SET project = ? WHERE project IS NULL AND run_id = ?",
                [project, run_id],
            )
    run("UPDATE _ingestd.quarantine SET project = ? WHERE project IS NULL", [LEGACY_PROJECT])
    for statement in dialect.bookkeeping_keys:
        run(statement, [])
    report = UpgradeReport({}, {})
    for schema, table in _user_tables(run):
        _move_table(run, schema, table, report)
    for name, rows in sorted(report.legacy.items()):
        log.warning(
            "upgrade: %d rows of %s were loaded by no known project's run; they are kept in %s.%s",
            rows,
            name,
            LEGACY_SCHEMA,
            _legacy_name(*name.split(".", 1)),
        )
    orphans = run("SELECT count(*) FROM _ingestd.ledger WHERE project = ?", [LEGACY_PROJECT])[0][0]
    log.info(
        "upgrade: destination moved to data per project (%d tables, %d ledger entries of no "
        "known run)",
        len(report.moved),
        int(orphans),
    )
    return report


def _user_tables(run: Run) -> list[tuple[str, str]]:
    """Layout-1 user tables: every table that carries ingestd's load key column."""
    rows = run(
        "SELECT table_schema, table_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND column_name = ? "
        "AND table_schema NOT IN ('_ingestd', ?) ORDER BY 1, 2",
        [LOAD_KEY, LEGACY_SCHEMA],
    )
    return [(str(s), str(t)) for s, t in rows]


def _legacy_name(namespace: str, table: str) -> str:
    """The table's name in the legacy schema (one schema for every namespace)."""
    name = f"{namespace}.{table}"
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:20]
    return f"{namespace[:20]}.{table[:20]}~{digest}"


def _copy(
    run: Run, old: str, new_schema: str, new_table: str, where: str, params: list[Any]
) -> int:
    new = f"{quote(new_schema)}.{quote(new_table)}"
    run(f"CREATE SCHEMA IF NOT EXISTS {quote(new_schema)}", [])
    # LIMIT 0: the same columns and types, in DuckDB as in PostgreSQL.
    run(f"CREATE TABLE {new} AS SELECT * FROM {old} LIMIT 0", [])
    run(f"INSERT INTO {new} SELECT * FROM {old} WHERE {where}", params)
    return int(run(f"SELECT count(*) FROM {new}", [])[0][0])


def _move_table(run: Run, namespace: str, table: str, report: UpgradeReport) -> None:
    old = f"{quote(namespace)}.{quote(table)}"
    [(total,)] = run(f"SELECT count(*) FROM {old}", [])
    projects = run(
        f"SELECT DISTINCT l.project FROM {old} x JOIN _ingestd.ledger l "
        f"ON l.load_key = x.{LOAD_KEY} WHERE l.project <> ? ORDER BY 1",
        [LEGACY_PROJECT],
    )
    moved = 0
    for (project,) in projects:
        rows = _copy(
            run,
            old,
            physical_schema(str(project), namespace),
            table,
            f"{LOAD_KEY} IN (SELECT load_key FROM _ingestd.ledger WHERE project = ?)",
            [project],
        )
        report.moved[(str(project), f"{namespace}.{table}")] = rows
        moved += rows
    claimed = "SELECT load_key FROM _ingestd.ledger WHERE project <> ?"
    [(unclaimed,)] = run(
        f"SELECT count(*) FROM {old} WHERE {LOAD_KEY} IS NULL OR {LOAD_KEY} NOT IN ({claimed})",
        [LEGACY_PROJECT],
    )
    if unclaimed:
        moved += _copy(
            run,
            old,
            LEGACY_SCHEMA,
            _legacy_name(namespace, table),
            f"{LOAD_KEY} IS NULL OR {LOAD_KEY} NOT IN ({claimed})",
            [LEGACY_PROJECT],
        )
        report.legacy[f"{namespace}.{table}"] = int(unclaimed)
    if moved != int(total):
        raise AccountingMismatch(
            f"upgrading {namespace}.{table}: {total} rows, but {moved} were moved; nothing "
            "was changed",
            hint="report this; the destination keeps its old layout until it is fixed",
        )
    run(f"DROP TABLE {old}", [])
