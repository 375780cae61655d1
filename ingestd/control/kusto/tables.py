"""Kusto tables and mappings on the catalog: a database is a table namespace of the project.

* ``.create table`` of a table that exists succeeds and changes nothing, whatever columns it
  names (the vendor's command is idempotent: provisioning scripts run it on every deploy);
  ``.create-merge`` adds missing columns, keeps the existing ones and refuses a changed type.
* Kusto column types map onto ingestd's: ``string``, ``long``/``int``, ``real``/``double``,
  ``bool``, ``datetime``, ``dynamic``; ``guid`` is kept as ``string``. ``timespan`` and
  ``decimal`` are refused (ingestd has no exact type for them). The map, both ways, is
  ``ingestd.domain.kql.types``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingestd.control.catalog import Catalog
from ingestd.control.kusto.mappings import Mappings, MappingView, kusto_mapping
from ingestd.domain.kql.types import column_type_of
from ingestd.domain.names import check_identifier
from ingestd.domain.tables import Column, TableSpec
from ingestd.errors import (
    Conflict,
    DatabaseNotFound,
    EmptyDatabaseName,
    InconsistentMapping,
    InvalidInput,
    InvalidMapping,
    InvalidName,
    InvalidTableName,
    MappingInvalid,
    UnknownTable,
)


def check_database(name: str | None) -> str:
    if not name:
        raise EmptyDatabaseName("the database name is empty")
    try:
        return check_identifier(name, what="database")
    except InvalidInput as exc:
        raise InvalidName(exc.message, hint=exc.hint) from exc


def check_table(name: str | None) -> str:
    try:
        return check_identifier(name or "", what="table")
    except InvalidInput as exc:
        raise InvalidTableName(exc.message, hint=exc.hint) from exc


def require_table(catalog: Catalog, project_id: int, database: str, table: str) -> str:
    """The qualified name of an existing table; 404 with the Kusto code otherwise."""
    qualified = f"{check_database(database)}.{check_table(table)}"
    if catalog.find_table(project_id, qualified) is not None:
        return qualified
    if not catalog.list_tables(project_id, namespace=database):
        raise DatabaseNotFound(
            f"database {database!r} does not exist",
            hint="a database exists once a table is created in it (.create table)",
        )
    raise UnknownTable(
        f"table {table!r} does not exist in database {database!r}",
        hint="create it with .create table",
    )


def _column(name: str, type_name: str) -> Column:
    try:
        checked = check_identifier(name, what="column")
    except InvalidInput as exc:
        raise InvalidName(exc.message, hint=exc.hint) from exc
    return Column(checked, column_type_of(type_name))


def create_table(
    catalog: Catalog,
    project_id: int,
    database: str,
    name: str,
    columns: Sequence[tuple[str, str]],
    *,
    merge: bool,
) -> TableSpec:
    """Create (or with ``merge`` extend) ``database.name``; returns the table as it now is."""
    database, name = check_database(database), check_table(name)
    typed = tuple(_column(c, t) for c, t in columns)
    try:
        spec = TableSpec(database, name, typed)
    except InvalidInput as exc:
        raise InvalidName(exc.message, hint=exc.hint) from exc
    existing = catalog.find_table(project_id, spec.qualified_name)
    if existing is not None and not merge:
        return existing  # the vendor answers success and leaves the table as it is
    try:
        return catalog.create_table(project_id, spec, merge=merge)
    except Conflict as exc:
        raced = None if merge else catalog.find_table(project_id, spec.qualified_name)
        if raced is not None:  # created by a concurrent .create table: the same success
            return raced
        raise InvalidInput(exc.message, hint=exc.hint) from exc


def show_table(catalog: Catalog, project_id: int, database: str, name: str) -> TableSpec:
    return catalog.get_table(project_id, require_table(catalog, project_id, database, name))


def show_tables(catalog: Catalog, project_id: int, database: str) -> list[TableSpec]:
    return catalog.list_tables(project_id, namespace=check_database(database))


def create_mapping(
    catalog: Catalog,
    mappings: Mappings,
    project_id: int,
    database: str,
    table: str,
    kind: str,
    name: str,
    elements: Any,
    *,
    replace: bool,
) -> MappingView:
    qualified = require_table(catalog, project_id, database, table)
    kind = "avro" if kind.lower() == "apacheavro" else kind.lower()
    try:
        parsed = kusto_mapping(kind, elements)
    except MappingInvalid as exc:
        raise InvalidMapping(exc.message, hint=exc.hint) from exc
    try:
        parsed.check_against(catalog.get_table(project_id, qualified))
    except MappingInvalid as exc:
        raise InconsistentMapping(exc.message, hint=exc.hint) from exc
    try:
        return mappings.create(project_id, qualified, kind, name, elements, replace=replace)
    except Conflict as exc:
        raise InvalidInput(exc.message, hint=exc.hint) from exc


def show_mappings(
    catalog: Catalog,
    mappings: Mappings,
    project_id: int,
    database: str,
    table: str,
    kind: str | None,
) -> list[MappingView]:
    qualified = require_table(catalog, project_id, database, table)
    if kind is not None and kind.lower() == "apacheavro":
        kind = "avro"
    return mappings.list(project_id, qualified, kind)
