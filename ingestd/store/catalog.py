"""SQL of a project's catalog: its connections, tables, sources and named mappings.

``CatalogRepository`` is what ``control`` types against; ``SqlCatalog`` keeps it in the
metadata database. Every value returned is a domain value (tables placed in their project),
never an ORM row. Decisions (what may be created, what a change must satisfy) are control's:
a read-modify-write is one transaction here, with control's rule passed in as a function.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingestd.domain.catalog import ConnectionView, SourceView
from ingestd.domain.connections import ConnectionBody
from ingestd.domain.mapping import Mapping
from ingestd.domain.sources import ErrorPolicy, LoadMode, ReadOptions
from ingestd.domain.tables import TableSpec, split_table_name
from ingestd.errors import Conflict, NotFound
from ingestd.store import status_counts
from ingestd.store.database import Store
from ingestd.store.schema import Connection, MappingDef, Project, Source, TableDef, Unit, utcnow


@dataclass(frozen=True)
class StoredMapping:
    """A named mapping of a table as stored: the Kusto elements it was given."""

    table: str
    """Qualified ``namespace.name``."""
    kind: str
    name: str
    elements: list[Any]
    updated_at: datetime


SourceChange = Callable[[SourceView, TableSpec], SourceView]
"""Given a source and its table, the source as it should be stored (or an error raised)."""


class CatalogRepository(Protocol):
    # connections
    def save_connection(
        self, project_id: int, name: str, body: ConnectionBody, *, replace: bool
    ) -> ConnectionView: ...
    def connections(self, project_id: int) -> list[ConnectionView]: ...
    def connection(self, project_id: int, name: str) -> ConnectionView | None: ...
    def connection_secrets(self, project_id: int, name: str) -> dict[str, str]: ...
    def delete_connection(self, project_id: int, name: str) -> None: ...

    # tables
    def create_table(
        self, project_id: int, table: TableSpec, *, change: Callable[[TableSpec], TableSpec]
    ) -> TableSpec: ...
    def find_table(self, project_id: int, qualified: str) -> TableSpec | None: ...
    def tables(self, project_id: int, namespace: str | None) -> list[TableSpec]: ...

    # sources
    def add_source(self, project_id: int, source: SourceView) -> SourceView: ...
    def update_source(self, project_id: int, name: str, change: SourceChange) -> SourceView: ...
    def source(self, project_id: int, name: str) -> SourceView | None: ...
    def sources_named(self, project_id: int, names: Sequence[str]) -> list[SourceView]: ...
    def sources(self, project_id: int, dataset: str | None) -> list[SourceView]: ...
    def delete_source(self, project_id: int, name: str) -> SourceView: ...

    # named mappings
    def save_mapping(
        self,
        project_id: int,
        table: str,
        kind: str,
        name: str,
        elements: list[Any],
        *,
        replace: bool,
    ) -> StoredMapping | None: ...
    def mappings(self, project_id: int, table: str, kind: str | None) -> list[StoredMapping]: ...


class SqlCatalog:
    """``CatalogRepository`` in the metadata database. Secrets are sealed with the store's
    ``secret_box`` before they are written and opened only by ``connection_secrets``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- connections --------------------------------------------------------------------------

    def save_connection(
        self, project_id: int, name: str, body: ConnectionBody, *, replace: bool
    ) -> ConnectionView:
        """Create the connection, or with ``replace`` replace one of that name; ``Conflict``
        when it exists and may not be replaced."""
        secrets = body.secrets()
        sealed = (
            self.store.secret_box.seal(json.dumps(secrets, sort_keys=True)) if secrets else None
        )
        with self.store.write() as session:
            row = _connection_row(session, project_id, name)
            if row is not None and not replace:
                raise Conflict(f"connection {name!r} exists already")
            if row is None:
                row = Connection(project_id=project_id, name=name, kind=body.kind)
                session.add(row)
            row.kind, row.config, row.sealed_secrets = body.kind, body.settings(), sealed
            session.flush()
            return _connection_view(row)

    def connections(self, project_id: int) -> list[ConnectionView]:
        query = (
            select(Connection).where(Connection.project_id == project_id).order_by(Connection.name)
        )
        with self.store.read() as session:
            return [_connection_view(r) for r in session.scalars(query)]

    def connection(self, project_id: int, name: str) -> ConnectionView | None:
        with self.store.read() as session:
            row = _connection_row(session, project_id, name)
            return None if row is None else _connection_view(row)

    def connection_secrets(self, project_id: int, name: str) -> dict[str, str]:
        """The connection's secrets, decrypted (``{}`` when it has none); ``NotFound``."""
        with self.store.read() as session:
            sealed = _existing_connection(session, project_id, name).sealed_secrets
        if sealed is None:
            return {}
        opened: dict[str, str] = json.loads(self.store.secret_box.open(sealed))
        return opened

    def delete_connection(self, project_id: int, name: str) -> None:
        """Delete it; ``NotFound``, or ``Conflict`` while a source uses it."""
        with self.store.write() as session:
            row = _existing_connection(session, project_id, name)
            in_use = session.scalar(select(Source.name).where(Source.connection_id == row.id))
            if in_use is not None:
                raise Conflict(f"connection {name!r} is used by source {in_use!r}")
            session.delete(row)

    # -- tables -------------------------------------------------------------------------------

    def create_table(
        self, project_id: int, table: TableSpec, *, change: Callable[[TableSpec], TableSpec]
    ) -> TableSpec:
        """Insert ``table``; if the project has one of that name, store ``change(existing)``
        instead, in the same transaction. Returns the table as stored, placed."""
        with self.store.write() as session:
            project = _project_name(session, project_id)
            row = _table_row(session, project_id, table.qualified_name)
            if row is None:
                session.add(
                    TableDef(
                        project_id=project_id,
                        namespace=table.namespace,
                        name=table.name,
                        spec=table.to_dict(),
                    )
                )
                return table.in_project(project)
            changed = change(_spec(row).in_project(project))
            row.spec = changed.to_dict()
            return changed.in_project(project)

    def find_table(self, project_id: int, qualified: str) -> TableSpec | None:
        """The project's table ``namespace.name``, placed in the project; None if none."""
        with self.store.read() as session:
            row = _table_row(session, project_id, qualified)
            return None if row is None else _placed(session, row)

    def tables(self, project_id: int, namespace: str | None) -> list[TableSpec]:
        query = select(TableDef).where(TableDef.project_id == project_id)
        if namespace is not None:
            query = query.where(TableDef.namespace == namespace)
        with self.store.read() as session:
            rows = session.scalars(query.order_by(TableDef.namespace, TableDef.name)).all()
            return [_placed(session, r) for r in rows]

    # -- sources ------------------------------------------------------------------------------

    def add_source(self, project_id: int, source: SourceView) -> SourceView:
        """Store ``source`` (its ``id`` is ignored) and return it with its id. ``NotFound``
        when its table or connection is gone; ``Conflict`` when the name is taken."""
        with self.store.write() as session:
            table = _existing_table(session, project_id, source.table)
            connection = (
                None
                if source.connection is None
                else _existing_connection(session, project_id, source.connection)
            )
            row = Source(
                project_id=project_id,
                name=source.name,
                connection_id=None if connection is None else connection.id,
                table_id=table.id,
                dataset=source.dataset,
            )
            _write_source(row, source)
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise Conflict(f"source {source.name!r} exists already") from exc
            # After the row: status_counts' lock order (a run's cells of it may be in flight).
            status_counts.add_source_cells(session, project_id, row.name, row.dataset)
            return _source_view(session, row)

    def update_source(self, project_id: int, name: str, change: SourceChange) -> SourceView:
        """Store ``change(source, its table)`` in place of the source, in one transaction (its
        name, table, connection and dataset stay); ``NotFound``."""
        with self.store.write() as session:
            row = _existing_source(session, project_id, name)
            table = session.get(TableDef, row.table_id)
            assert table is not None
            _write_source(row, change(_source_view(session, row), _spec(table)))
            row.updated_at = utcnow()
            return _source_view(session, row)

    def source(self, project_id: int, name: str) -> SourceView | None:
        with self.store.read() as session:
            row = _source_row(session, project_id, name)
            return None if row is None else _source_view(session, row)

    def sources_named(self, project_id: int, names: Sequence[str]) -> list[SourceView]:
        """The sources of these names that exist, in one session (a run over a dataset's
        thousand sources read each in a session of its own, three queries apiece)."""
        wanted = list(dict.fromkeys(names))
        with self.store.read() as session:
            rows: list[Source] = []
            for start in range(0, len(wanted), _NAMES_PER_QUERY):
                rows.extend(
                    session.scalars(
                        select(Source).where(
                            Source.project_id == project_id,
                            Source.name.in_(wanted[start : start + _NAMES_PER_QUERY]),
                        )
                    )
                )
            return _source_views(session, rows)

    def sources(self, project_id: int, dataset: str | None) -> list[SourceView]:
        query = select(Source).where(Source.project_id == project_id)
        if dataset is not None:
            query = query.where(Source.dataset == dataset)
        with self.store.read() as session:
            rows = list(session.scalars(query.order_by(Source.name)))
            return _source_views(session, rows)

    def delete_source(self, project_id: int, name: str) -> SourceView:
        """Delete it (its units stay, no longer linked to it) and return what it was."""
        with self.store.write() as session:
            row = _existing_source(session, project_id, name)
            view = _source_view(session, row)
            session.execute(update(Unit).where(Unit.source_id == row.id).values(source_id=None))
            session.delete(row)
            session.flush()  # the row first, then the counts (status_counts' lock order)
            status_counts.remove_source_cells(session, project_id, row.name, row.dataset)
            return view

    # -- named mappings -----------------------------------------------------------------------

    def save_mapping(
        self,
        project_id: int,
        table: str,
        kind: str,
        name: str,
        elements: list[Any],
        *,
        replace: bool,
    ) -> StoredMapping | None:
        """Store the mapping; one of that kind and name is replaced with ``replace``, else
        kept (and None returned). ``NotFound`` for the table."""
        with self.store.write() as session:
            table_row = _existing_table(session, project_id, table)
            row = _mapping_row(session, table_row.id, kind, name)
            if row is not None and not replace:
                return None
            if row is None:
                row = MappingDef(table_id=table_row.id, kind=kind, name=name, spec=elements)
                session.add(row)
            else:
                row.spec = elements
                row.created_at = utcnow()
            session.flush()
            return _stored_mapping(table, row)

    def mappings(self, project_id: int, table: str, kind: str | None) -> list[StoredMapping]:
        """The table's mappings (of ``kind``), by kind then name; ``NotFound`` for the table."""
        with self.store.read() as session:
            table_row = _existing_table(session, project_id, table)
            query = select(MappingDef).where(MappingDef.table_id == table_row.id)
            if kind is not None:
                query = query.where(MappingDef.kind == kind)
            rows = session.scalars(query.order_by(MappingDef.kind, MappingDef.name)).all()
            return [_stored_mapping(table, r) for r in rows]


# -- rows and their values ----------------------------------------------------------------------


def _connection_row(session: Session, project_id: int, name: str) -> Connection | None:
    return session.scalar(
        select(Connection).where(Connection.project_id == project_id, Connection.name == name)
    )


def _existing_connection(session: Session, project_id: int, name: str) -> Connection:
    row = _connection_row(session, project_id, name)
    if row is None:
        raise NotFound(f"connection {name!r} does not exist")
    return row


def _connection_view(row: Connection) -> ConnectionView:
    return ConnectionView(row.id, row.name, row.kind, dict(row.config), bool(row.sealed_secrets))


def _project_name(session: Session, project_id: int) -> str:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project.name


def _table_row(session: Session, project_id: int, qualified: str) -> TableDef | None:
    """The one look-up of a table by its qualified name (sources and mappings use it too)."""
    namespace, name = split_table_name(qualified)
    return session.scalar(
        select(TableDef).where(
            TableDef.project_id == project_id,
            TableDef.namespace == namespace,
            TableDef.name == name,
        )
    )


def _existing_table(session: Session, project_id: int, qualified: str) -> TableDef:
    row = _table_row(session, project_id, qualified)
    if row is None:
        raise NotFound(f"table {qualified} does not exist", hint="create it first")
    return row


def _spec(row: TableDef) -> TableSpec:
    return TableSpec.from_dict(row.namespace, row.name, row.spec)


def _placed(session: Session, row: TableDef) -> TableSpec:
    """The table of ``row`` in its project: what a destination can name."""
    return _spec(row).in_project(_project_name(session, row.project_id))


_NAMES_PER_QUERY = 500
"""Names or ids bound in one ``IN`` list (SQLite allows some thousands of parameters a
statement)."""


def _source_row(session: Session, project_id: int, name: str) -> Source | None:
    return session.scalar(
        select(Source).where(Source.project_id == project_id, Source.name == name)
    )


def _existing_source(session: Session, project_id: int, name: str) -> Source:
    row = _source_row(session, project_id, name)
    if row is None:
        raise NotFound(f"source {name!r} does not exist")
    return row


def _write_source(row: Source, source: SourceView) -> None:
    """The fields of ``source`` a change may set (not its name, table, connection, dataset)."""
    row.path_template = source.path_template
    row.query = source.query
    row.read_options = source.read_options.to_dict()
    row.mapping = source.mapping.to_list()
    row.column_mapping = source.column_mapping
    row.load_mode = source.load_mode.value
    row.error_policy = source.error_policy.to_dict()
    row.schedule_hour_pst = source.schedule_hour_pst
    row.api_triggered = source.api_triggered
    row.enabled = source.enabled


def _source_view(session: Session, row: Source) -> SourceView:
    table = session.get(TableDef, row.table_id)
    assert table is not None
    connection = session.get(Connection, row.connection_id) if row.connection_id else None
    return _view_of(row, table, connection)


def _source_views(session: Session, rows: Sequence[Source]) -> list[SourceView]:
    """``_source_view`` of many rows, their tables and connections read together: the session
    holds what it loads only while something refers to it, so ``session.get`` per row read
    the same table again for every source."""
    tables = _by_id(session, TableDef, {r.table_id for r in rows})
    connections = _by_id(session, Connection, {r.connection_id for r in rows} - {None})
    return [
        _view_of(r, tables[r.table_id], connections[r.connection_id] if r.connection_id else None)
        for r in rows
    ]


_Row = TypeVar("_Row", TableDef, Connection)


def _by_id(session: Session, model: type[_Row], ids: set[int | None]) -> dict[int | None, _Row]:
    wanted = sorted(i for i in ids if i is not None)
    found: dict[int | None, _Row] = {}
    for start in range(0, len(wanted), _NAMES_PER_QUERY):
        chunk = wanted[start : start + _NAMES_PER_QUERY]
        found.update((r.id, r) for r in session.scalars(select(model).where(model.id.in_(chunk))))
    return found


def _view_of(row: Source, table: TableDef, connection: Connection | None) -> SourceView:
    return SourceView(
        id=row.id,
        name=row.name,
        table=f"{table.namespace}.{table.name}",
        connection=connection.name if connection else None,
        dataset=row.dataset,
        path_template=row.path_template,
        query=row.query,
        read_options=ReadOptions.from_dict(row.read_options),
        mapping=Mapping.from_list(row.mapping),
        column_mapping=row.column_mapping,
        load_mode=LoadMode(row.load_mode),
        error_policy=ErrorPolicy.from_dict(row.error_policy),
        schedule_hour_pst=row.schedule_hour_pst,
        api_triggered=row.api_triggered,
        enabled=row.enabled,
    )


def _mapping_row(session: Session, table_id: int, kind: str, name: str) -> MappingDef | None:
    return session.scalar(
        select(MappingDef).where(
            MappingDef.table_id == table_id, MappingDef.kind == kind, MappingDef.name == name
        )
    )


def _stored_mapping(table: str, row: MappingDef) -> StoredMapping:
    return StoredMapping(table, row.kind, row.name, list(row.spec), row.created_at)
