"""Connections, tables and sources of a project: create, change, read, delete.

Everything is validated before anything is written, so a rejected request changes nothing.
Connections are typed bodies (``domain.connections``): their settings are stored and shown,
their secrets are stored only encrypted and are never part of a view.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ingestd.dataplane.readers.files import check_allowed
from ingestd.dataplane.sql import SQL_KINDS
from ingestd.domain.catalog import ConnectionView, SourceView
from ingestd.domain.connections import ConnectionBody, FileConnection
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.mapping import Mapping, identity_mapping
from ingestd.domain.sources import DELIMITED, ErrorPolicy, LoadMode, ReadOptions
from ingestd.domain.tables import TableSpec, split_table_name
from ingestd.errors import Conflict, FetchNotAllowed, InvalidInput, NotFound
from ingestd.store.catalog import CatalogRepository, SqlCatalog
from ingestd.store.database import Store

# split_table_name (domain.tables) is named here too: the CLI names tables as the catalog does.
__all__ = ["DRAFT_SOURCE", "Catalog", "ConnectionView", "SourceView", "split_table_name"]

DRAFT_SOURCE = "(draft)"
"""The name of a source definition that is previewed before it is saved."""

_CHANGEABLE = frozenset(
    {
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
)
"""The fields of a source ``update_source`` may change."""


class Catalog:
    def __init__(self, store: Store, files_of: Callable[[int], ProjectFiles]) -> None:
        self.store = store
        self.repo: CatalogRepository = SqlCatalog(store)
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
        return self.repo.save_connection(project_id, name, body, replace=replace)

    def list_connections(self, project_id: int) -> list[ConnectionView]:
        return self.repo.connections(project_id)

    def get_connection(self, project_id: int, name: str) -> ConnectionView:
        found = self.repo.connection(project_id, name)
        if found is None:
            raise NotFound(f"connection {name!r} does not exist")
        return found

    def connection_secrets(self, project_id: int, name: str) -> dict[str, str]:
        """For the data plane only: the secrets a reader needs to connect, decrypted."""
        return self.repo.connection_secrets(project_id, name)

    def delete_connection(self, project_id: int, name: str) -> None:
        self.repo.delete_connection(project_id, name)

    # -- tables -------------------------------------------------------------------------------

    def create_table(self, project_id: int, table: TableSpec, *, merge: bool = False) -> TableSpec:
        """Create a table; with ``merge``, add the columns an existing table lacks."""

        def merged(current: TableSpec) -> TableSpec:
            if not merge:
                raise Conflict(f"table {table.qualified_name} exists already")
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
            return dataclasses.replace(current, columns=current.columns + added)

        return self.repo.create_table(project_id, table, change=merged)

    def get_table(self, project_id: int, qualified: str) -> TableSpec:
        """The table, placed in its project (``TableSpec.project``), as every table this
        catalog returns is."""
        found = self.repo.find_table(project_id, qualified)
        if found is None:
            raise NotFound(f"table {qualified} does not exist", hint="create it first")
        return found

    def find_table(self, project_id: int, qualified: str) -> TableSpec | None:
        return self.repo.find_table(project_id, qualified)

    def list_tables(self, project_id: int, namespace: str | None = None) -> list[TableSpec]:
        return self.repo.tables(project_id, namespace)

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
        draft = self.source_draft(
            project_id,
            table=table,
            connection=connection,
            path_template=path_template,
            query=query,
            read_options=read_options,
            mapping=mapping,
            load_mode=load_mode,
            error_policy=error_policy,
        )
        return self.repo.add_source(
            project_id,
            dataclasses.replace(
                draft,
                name=name,
                dataset=dataset,
                column_mapping=column_mapping,
                schedule_hour_pst=schedule_hour_pst,
                api_triggered=api_triggered,
                enabled=enabled,
            ),
        )

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
        self._check_connection(project_id, connection, path_template, query)
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
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise InvalidInput(f"cannot change {sorted(unknown)} of a source")

        def changed(source: SourceView, spec: TableSpec) -> SourceView:
            fields = dict(changes)
            if "mapping" in fields:
                fields["mapping"].check_against(spec)
            if "load_mode" in fields:
                fields["load_mode"] = LoadMode(fields["load_mode"])
            return dataclasses.replace(source, **fields)

        return self.repo.update_source(project_id, name, changed)

    def get_source(self, project_id: int, name: str) -> SourceView:
        found = self.repo.source(project_id, name)
        if found is None:
            raise NotFound(f"source {name!r} does not exist")
        return found

    def get_sources(self, project_id: int, names: Sequence[str]) -> list[SourceView]:
        """``get_source`` of each name, in the names' order, read together."""
        found = {s.name: s for s in self.repo.sources_named(project_id, names)}
        for name in names:
            if name not in found:
                raise NotFound(f"source {name!r} does not exist")
        return [found[name] for name in names]

    def list_sources(self, project_id: int, dataset: str | None = None) -> list[SourceView]:
        return self.repo.sources(project_id, dataset)

    def delete_source(self, project_id: int, name: str) -> SourceView:
        return self.repo.delete_source(project_id, name)

    def file_root_of(self, project_id: int, connection: str | None) -> Path | None:
        if connection is None:
            return None
        view = self.get_connection(project_id, connection)
        return Path(str(view.config["root"])) if view.kind == "file" else None

    def _check_connection(
        self,
        project_id: int,
        connection: str | None,
        path_template: str | None,
        query: str | None,
    ) -> None:
        """A source definition's connection fits it (a file connection for a path template, a
        SQL one for a query)."""
        if connection is not None:
            found = self.get_connection(project_id, connection)
            if path_template is not None and found.kind != "file":
                raise InvalidInput(f"connection {connection!r} is not a file connection")
            if query is not None and found.kind not in SQL_KINDS:
                raise InvalidInput(
                    f"connection {connection!r} ({found.kind}) cannot run queries",
                    hint=f"use a connection of kind {', '.join(sorted(SQL_KINDS))}",
                )
            return
        if query is not None:
            raise InvalidInput("a query source needs a connection to run it on")
        if path_template is not None and not Path(path_template).is_absolute():
            raise InvalidInput("a path template without a file connection must be an absolute path")
