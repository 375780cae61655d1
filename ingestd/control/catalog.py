"""Connections, tables and sources of a project: create, change, read, delete.

Everything is validated before anything is written, so a rejected request changes nothing.
Connections are typed bodies (``domain.connections``): their settings are stored and shown,
their secrets are stored only encrypted and are never part of a view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingestd.dataplane.files import check_allowed
from ingestd.dataplane.sql_extract import SQL_KINDS
from ingestd.domain.connections import ConnectionBody, FileConnection
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.mapping import Mapping, identity_mapping
from ingestd.domain.names import check_identifier
from ingestd.domain.sources import DELIMITED, ErrorPolicy, LoadMode, ReadOptions
from ingestd.domain.tables import Column, TableSpec
from ingestd.errors import Conflict, FetchNotAllowed, InvalidInput, NotFound
from ingestd.store.database import Store
from ingestd.store.schema import Connection, Project, Source, TableDef, Unit, utcnow

DRAFT_SOURCE = "(draft)"
"""The name of a source definition that is previewed before it is saved."""


@dataclass(frozen=True)
class ConnectionView:
    id: int
    name: str
    kind: str
    config: dict[str, Any]
    has_secrets: bool


@dataclass(frozen=True)
class SourceView:
    id: int
    name: str
    table: str
    connection: str | None
    dataset: str | None
    path_template: str | None
    query: str | None
    read_options: ReadOptions
    mapping: Mapping
    column_mapping: dict[str, Any] | None
    load_mode: LoadMode
    error_policy: ErrorPolicy
    schedule_hour_pst: int | None
    api_triggered: bool
    enabled: bool


def table_spec_from_dict(namespace: str, name: str, spec: dict[str, Any]) -> TableSpec:
    columns = spec.get("columns")
    if not isinstance(columns, list):
        raise InvalidInput("a table needs 'columns': a list of {name, type}")
    return TableSpec(
        namespace,
        name,
        tuple(Column.from_dict(c) for c in columns),
        tuple(spec.get("primary_key") or ()),
        tuple(tuple(g) for g in spec.get("require_one_of") or ()),
    )


def table_spec_to_dict(table: TableSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"columns": [c.to_dict() for c in table.columns]}
    if table.primary_key:
        out["primary_key"] = list(table.primary_key)
    if table.require_one_of:
        out["require_one_of"] = [list(g) for g in table.require_one_of]
    return out


def split_table_name(qualified: str) -> tuple[str, str]:
    namespace, _, name = qualified.rpartition(".")
    if not namespace:
        raise InvalidInput(
            f"table {qualified!r} needs a namespace", hint="write it as namespace.name"
        )
    return check_identifier(namespace, what="namespace"), check_identifier(name, what="table")


class Catalog:
    def __init__(self, store: Store, files_of: Callable[[int], ProjectFiles]) -> None:
        self.store = store
        self.files_of = files_of
        """The file policy of a project (``FileAccess.for_project``): where a file connection's
        root may be."""

    # -- connections --------------------------------------------------------------------------

    def create_connection(
        self, project_id: int, name: str, body: ConnectionBody, *, replace: bool = False
    ) -> ConnectionView:
        """Create (or with ``replace``, replace) a connection from its typed body. Its settings
        are stored as they are; its secrets only encrypted (``Store.secret_box``)."""
        if not name or len(name) > 128:
            raise InvalidInput("a connection needs a name of 1 to 128 characters")
        if isinstance(body, FileConnection):
            try:
                check_allowed(Path(body.root), self.files_of(project_id))
            except FetchNotAllowed as exc:
                raise InvalidInput(exc.message, hint=exc.hint) from exc
        secrets = body.secrets()
        sealed = (
            self.store.secret_box.seal(json.dumps(secrets, sort_keys=True)) if secrets else None
        )
        with self.store.write() as session:
            row = session.scalar(
                select(Connection).where(
                    Connection.project_id == project_id, Connection.name == name
                )
            )
            if row is not None and not replace:
                raise Conflict(f"connection {name!r} exists already")
            if row is None:
                row = Connection(project_id=project_id, name=name, kind=body.kind)
                session.add(row)
            row.kind, row.config, row.sealed_secrets = body.kind, body.settings(), sealed
            session.flush()
            return _connection_view(row)

    def list_connections(self, project_id: int) -> list[ConnectionView]:
        with self.store.read() as session:
            rows = session.scalars(
                select(Connection)
                .where(Connection.project_id == project_id)
                .order_by(Connection.name)
            ).all()
            return [_connection_view(r) for r in rows]

    def get_connection(self, project_id: int, name: str) -> ConnectionView:
        with self.store.read() as session:
            return _connection_view(_connection_row(session, project_id, name))

    def connection_secrets(self, project_id: int, name: str) -> dict[str, str]:
        """For the data plane only: the secrets a reader needs to connect, decrypted."""
        with self.store.read() as session:
            sealed = _connection_row(session, project_id, name).sealed_secrets
        if sealed is None:
            return {}
        opened: dict[str, str] = json.loads(self.store.secret_box.open(sealed))
        return opened

    def delete_connection(self, project_id: int, name: str) -> None:
        with self.store.write() as session:
            row = _connection_row(session, project_id, name)
            in_use = session.scalar(select(Source.name).where(Source.connection_id == row.id))
            if in_use is not None:
                raise Conflict(f"connection {name!r} is used by source {in_use!r}")
            session.delete(row)

    # -- tables -------------------------------------------------------------------------------

    def create_table(self, project_id: int, table: TableSpec, *, merge: bool = False) -> TableSpec:
        """Create a table; with ``merge``, add the columns an existing table lacks."""
        with self.store.write() as session:
            row = _table_row(session, project_id, table.qualified_name, missing_ok=True)
            if row is None:
                session.add(
                    TableDef(
                        project_id=project_id,
                        namespace=table.namespace,
                        name=table.name,
                        spec=table_spec_to_dict(table),
                    )
                )
                return table.in_project(_project_name(session, project_id))
            if not merge:
                raise Conflict(f"table {table.qualified_name} exists already")
            current = table_spec_from_dict(row.namespace, row.name, row.spec)
            for column in table.columns:
                if (
                    current.has_column(column.name)
                    and current.column(column.name).type != column.type
                ):
                    raise Conflict(
                        f"column {column.name} of {table.qualified_name} is "
                        f"{current.column(column.name).type.value}, not {column.type.value}"
                    )
            added = tuple(c for c in table.columns if not current.has_column(c.name))
            merged = TableSpec(
                current.namespace,
                current.name,
                current.columns + added,
                current.primary_key,
                current.require_one_of,
                project=_project_name(session, project_id),
            )
            row.spec = table_spec_to_dict(merged)
            return merged

    def get_table(self, project_id: int, qualified: str) -> TableSpec:
        """The table, placed in its project (``TableSpec.project``), as every table this
        catalog returns is."""
        with self.store.read() as session:
            row = _table_row(session, project_id, qualified)
            assert row is not None
            return _placed(session, row)

    def find_table(self, project_id: int, qualified: str) -> TableSpec | None:
        with self.store.read() as session:
            row = _table_row(session, project_id, qualified, missing_ok=True)
            return None if row is None else _placed(session, row)

    def list_tables(self, project_id: int, namespace: str | None = None) -> list[TableSpec]:
        with self.store.read() as session:
            query = select(TableDef).where(TableDef.project_id == project_id)
            if namespace is not None:
                query = query.where(TableDef.namespace == namespace)
            rows = session.scalars(query.order_by(TableDef.namespace, TableDef.name)).all()
            return [_placed(session, r) for r in rows]

    # -- sources ------------------------------------------------------------------------------

    def create_source(
        self,
        project_id: int,
        *,
        name: str,
        table: str,
        connection: str | None = None,
        dataset: str | None = None,
        path_template: str | None = None,
        query: str | None = None,
        read_options: ReadOptions | None = None,
        mapping: Mapping | None = None,
        column_mapping: dict[str, Any] | None = None,
        load_mode: LoadMode = LoadMode.APPEND,
        error_policy: ErrorPolicy | None = None,
        schedule_hour_pst: int | None = None,
        api_triggered: bool = False,
        enabled: bool = True,
    ) -> SourceView:
        if not name or len(name) > 128:
            raise InvalidInput("a source needs a name of 1 to 128 characters")
        if schedule_hour_pst is not None and not 0 <= schedule_hour_pst <= 23:
            raise InvalidInput("schedule_hour_pst must be between 0 and 23")
        read_options, mapping = self._checked_definition(
            project_id, table, path_template, query, read_options, mapping, load_mode
        )
        with self.store.write() as session:
            connection_id = _checked_connection(
                session, project_id, connection, path_template, query
            )
            table_row = _table_row(session, project_id, table)
            assert table_row is not None
            row = Source(
                project_id=project_id,
                name=name,
                connection_id=connection_id,
                table_id=table_row.id,
                dataset=dataset,
                path_template=path_template,
                query=query,
                read_options=read_options.to_dict(),
                mapping=mapping.to_list(),
                column_mapping=column_mapping,
                load_mode=load_mode.value,
                error_policy=(error_policy or ErrorPolicy()).to_dict(),
                schedule_hour_pst=schedule_hour_pst,
                api_triggered=api_triggered,
                enabled=enabled,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise Conflict(f"source {name!r} exists already") from exc
            return _source_view(session, row)

    def source_draft(
        self,
        project_id: int,
        *,
        table: str,
        connection: str | None = None,
        path_template: str | None = None,
        query: str | None = None,
        read_options: ReadOptions | None = None,
        mapping: Mapping | None = None,
        load_mode: LoadMode = LoadMode.APPEND,
        error_policy: ErrorPolicy | None = None,
    ) -> SourceView:
        """A source definition checked as ``create_source`` checks it, not saved (a preview of
        a source before it is created): id 0, named ``(draft)``."""
        read_options, mapping = self._checked_definition(
            project_id, table, path_template, query, read_options, mapping, load_mode
        )
        with self.store.read() as session:
            _checked_connection(session, project_id, connection, path_template, query)
        return SourceView(
            id=0,
            name=DRAFT_SOURCE,
            table=table,
            connection=connection,
            dataset=None,
            path_template=path_template,
            query=query,
            read_options=read_options,
            mapping=mapping,
            column_mapping=None,
            load_mode=load_mode,
            error_policy=error_policy or ErrorPolicy(),
            schedule_hour_pst=None,
            api_triggered=False,
            enabled=False,
        )

    def _checked_definition(
        self,
        project_id: int,
        table: str,
        path_template: str | None,
        query: str | None,
        read_options: ReadOptions | None,
        mapping: Mapping | None,
        load_mode: LoadMode,
    ) -> tuple[ReadOptions, Mapping]:
        """The read options and mapping of a source definition (identity by default), checked
        against its table."""
        if (path_template is None) == (query is None):
            raise InvalidInput("a source needs exactly one of path_template or query")
        read_options = read_options or ReadOptions()
        spec = self.get_table(project_id, table)
        if mapping is None:
            by_position = not read_options.header and read_options.format in DELIMITED
            mapping = identity_mapping(spec, by_position=by_position)
        mapping.check_against(spec)
        if load_mode is LoadMode.UPSERT and not spec.primary_key:
            raise InvalidInput(f"upsert needs a primary key on {table}")
        return read_options, mapping

    def update_source(self, project_id: int, name: str, **changes: Any) -> SourceView:
        """Change some fields of a source; validated like a create, applied all or nothing."""
        allowed = {
            "path_template",
            "query",
            "read_options",
            "mapping",
            "column_mapping",
            "load_mode",
            "error_policy",
            "schedule_hour_pst",
            "api_triggered",
            "enabled",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(f"cannot change {sorted(unknown)} of a source")
        with self.store.write() as session:
            row = _source_row(session, project_id, name)
            table_row = session.get(TableDef, row.table_id)
            assert table_row is not None
            spec = table_spec_from_dict(table_row.namespace, table_row.name, table_row.spec)
            for key, value in changes.items():
                if key == "mapping":
                    value.check_against(spec)
                    row.mapping = value.to_list()
                elif key in ("read_options", "error_policy"):
                    setattr(row, key, value.to_dict())
                elif key == "load_mode":
                    row.load_mode = LoadMode(value).value
                else:
                    setattr(row, key, value)
            row.updated_at = utcnow()
            return _source_view(session, row)

    def get_source(self, project_id: int, name: str) -> SourceView:
        with self.store.read() as session:
            return _source_view(session, _source_row(session, project_id, name))

    def list_sources(self, project_id: int, dataset: str | None = None) -> list[SourceView]:
        with self.store.read() as session:
            query = select(Source).where(Source.project_id == project_id)
            if dataset is not None:
                query = query.where(Source.dataset == dataset)
            rows = session.scalars(query.order_by(Source.name)).all()
            return [_source_view(session, r) for r in rows]

    def delete_source(self, project_id: int, name: str) -> SourceView:
        with self.store.write() as session:
            row = _source_row(session, project_id, name)
            view = _source_view(session, row)
            session.query(Unit).filter(Unit.source_id == row.id).update({"source_id": None})
            session.delete(row)
            return view

    def file_root_of(self, project_id: int, connection: str | None) -> Path | None:
        if connection is None:
            return None
        view = self.get_connection(project_id, connection)
        return Path(str(view.config["root"])) if view.kind == "file" else None


def _checked_connection(
    session: Session,
    project_id: int,
    connection: str | None,
    path_template: str | None,
    query: str | None,
) -> int | None:
    """The id of a source definition's connection, checked to fit it (a file connection for a
    path template, a SQL one for a query)."""
    if connection is not None:
        connection_row = _connection_row(session, project_id, connection)
        if path_template is not None and connection_row.kind != "file":
            raise InvalidInput(f"connection {connection!r} is not a file connection")
        if query is not None and connection_row.kind not in SQL_KINDS:
            raise InvalidInput(
                f"connection {connection!r} ({connection_row.kind}) cannot run queries",
                hint=f"use a connection of kind {', '.join(sorted(SQL_KINDS))}",
            )
        return connection_row.id
    if query is not None:
        raise InvalidInput("a query source needs a connection to run it on")
    if path_template is not None and not Path(path_template).is_absolute():
        raise InvalidInput("a path template without a file connection must be an absolute path")
    return None


def _connection_view(row: Connection) -> ConnectionView:
    return ConnectionView(row.id, row.name, row.kind, dict(row.config), bool(row.sealed_secrets))


def _connection_row(session: Session, project_id: int, name: str) -> Connection:
    row = session.scalar(
        select(Connection).where(Connection.project_id == project_id, Connection.name == name)
    )
    if row is None:
        raise NotFound(f"connection {name!r} does not exist")
    return row


def _project_name(session: Session, project_id: int) -> str:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"project {project_id} does not exist")
    return project.name


def _placed(session: Session, row: TableDef) -> TableSpec:
    """The table of ``row`` in its project: what a destination can name."""
    spec = table_spec_from_dict(row.namespace, row.name, row.spec)
    return spec.in_project(_project_name(session, row.project_id))


def _table_row(
    session: Session, project_id: int, qualified: str, *, missing_ok: bool = False
) -> TableDef | None:
    namespace, name = split_table_name(qualified)
    row = session.scalar(
        select(TableDef).where(
            TableDef.project_id == project_id,
            TableDef.namespace == namespace,
            TableDef.name == name,
        )
    )
    if row is None and not missing_ok:
        raise NotFound(f"table {qualified} does not exist", hint="create it first")
    return row


def _source_row(session: Session, project_id: int, name: str) -> Source:
    row = session.scalar(select(Source).where(Source.project_id == project_id, Source.name == name))
    if row is None:
        raise NotFound(f"source {name!r} does not exist")
    return row


def _source_view(session: Session, row: Source) -> SourceView:
    table = session.get(TableDef, row.table_id)
    assert table is not None
    connection = session.get(Connection, row.connection_id) if row.connection_id else None
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
