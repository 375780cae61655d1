"""Dataset sources: sources that load one of the canonical datasets (Events, Metrics, ...).

This is the model behind the Statsig dialect: a source has a dataset and reads through the
project's connection of a given type (the connection is named after its type, one per type).
Schedules are per dataset, in PST. Event counts come from what ingestd holds in the destination.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ingestd.control.catalog import Catalog, SourceView
from ingestd.control.run_views import RunView
from ingestd.control.runs import Runs
from ingestd.dataplane.destinations.interface import Destination
from ingestd.domain.datasets import DATASET_TABLES, dataset_key, mapping_from_column_mapping
from ingestd.domain.origins import RunOrigin
from ingestd.domain.sources import ReadOptions
from ingestd.errors import Conflict, InvalidInput, NotFound
from ingestd.store.database import Store
from ingestd.store.schedules import SqlSchedules
from ingestd.store.transaction import Transaction

BAD_REQUEST = "Invalid request. Please check the request input and try again."
"""The Statsig message of a refused request (§1.1); the hint says what is wrong."""
DEFAULT_HOUR_PST = 10  # API-SURFACE §1.4 #12: scheduled_hour_pst defaults to 10
FILE_KINDS = frozenset({"file"})


@dataclass(frozen=True)
class EventCount:
    day: date
    event: str
    count: int
    last_updated: datetime


@dataclass(frozen=True)
class SourceChanges:
    """A partial update of a dataset source: None leaves a field as it is."""

    query: str | None = None
    column_mapping: dict[str, Any] | None = None
    """Statsig's ``column_mapping`` as given (it is stored and shown back as given)."""
    enabled: bool | None = None
    api_triggered: bool | None = None


class DatasetSources:
    def __init__(self, store: Store, catalog: Catalog, runs: Runs) -> None:
        self.store = store
        self.catalog = catalog
        self.runs = runs
        self.schedules = SqlSchedules(store)

    # -- sources ------------------------------------------------------------------------------

    def find(
        self, project_id: int, connection_type: str, dataset: str, name: str | None = None
    ) -> list[SourceView]:
        key = dataset_key(dataset)
        return [
            s
            for s in self.catalog.list_sources(project_id, dataset=key)
            if s.connection == connection_type and (name is None or s.name == name)
        ]

    def find_one(
        self, project_id: int, connection_type: str, dataset: str, name: str | None
    ) -> SourceView:
        matches = self.find(project_id, connection_type, dataset, name)
        if not matches:
            raise NotFound(f"Ingestion of type {connection_type} not found.")
        if name is None and len(matches) > 1:
            names = ", ".join(s.name for s in matches)
            raise InvalidInput(
                f"several {dataset} sources of type {connection_type} exist ({names})",
                hint="name one with source_name",
            )
        return matches[0]

    def create(
        self,
        project_id: int,
        *,
        connection_type: str,
        dataset: str,
        name: str,
        query: str | None,
        column_mapping: dict[str, Any] | None,
        enabled: bool = True,
        api_triggered: bool = False,
    ) -> SourceView:
        key = dataset_key(dataset)
        table = DATASET_TABLES[key]
        connection = self._connection_kind(project_id, connection_type)
        if not query:
            raise InvalidInput("query is required: the SQL to run, or the path template of files")
        if column_mapping is None:
            raise InvalidInput(f"column_mapping is required for {dataset}")
        mapping = mapping_from_column_mapping(dataset, column_mapping)
        if any(s.name == name for s in self.catalog.list_sources(project_id)):
            raise InvalidInput(f"Ingestion source already exists with name {name}")
        self.catalog.create_table(project_id, table, merge=True)
        is_file = connection in FILE_KINDS
        try:
            return self.catalog.create_source(
                project_id,
                name=name,
                table=table.qualified_name,
                connection=connection_type,
                dataset=key,
                path_template=query if is_file else None,
                query=None if is_file else query,
                read_options=ReadOptions(),
                mapping=mapping,
                column_mapping=column_mapping,
                enabled=enabled,
                api_triggered=api_triggered,
            )
        except Conflict as exc:
            raise InvalidInput(f"Ingestion source already exists with name {name}") from exc

    def update(self, project_id: int, source: SourceView, changes: SourceChanges) -> SourceView:
        """Partial update: only the given fields change (API-SURFACE §1.4 #3)."""
        updates: dict[str, Any] = {}
        if changes.column_mapping is not None:
            assert source.dataset is not None
            updates["mapping"] = mapping_from_column_mapping(source.dataset, changes.column_mapping)
            updates["column_mapping"] = changes.column_mapping
        if changes.query is not None:
            key = "query" if source.query is not None else "path_template"
            updates[key] = changes.query
        if changes.enabled is not None:
            updates["enabled"] = changes.enabled
        if changes.api_triggered is not None:
            updates["api_triggered"] = changes.api_triggered
        return self.catalog.update_source(project_id, source.name, **updates)

    def _connection_kind(self, project_id: int, connection_type: str) -> str:
        try:
            return self.catalog.get_connection(project_id, connection_type).kind
        except NotFound:
            raise NotFound(f"Ingestion of type {connection_type} not found.") from None

    # -- schedules ----------------------------------------------------------------------------

    def schedule_hour(self, project_id: int, dataset: str) -> int:
        hour = self.schedules.dataset_hour(project_id, dataset_key(dataset))
        return DEFAULT_HOUR_PST if hour is None else hour

    def set_schedule_hour(self, project_id: int, dataset: str, hour: int) -> int:
        if not 0 <= hour <= 23:
            raise InvalidInput("scheduled_hour_pst must be between 0 and 23")
        self.schedules.set_dataset_hour(project_id, dataset_key(dataset), hour)
        return hour

    def scheduled_datasets(self) -> list[tuple[int, str, int]]:
        """(project, dataset, hour) for every project with sources of a dataset; datasets
        without an explicit schedule run at the default hour."""
        explicit = self.schedules.dataset_hours()
        pairs = self.schedules.datasets_with_sources()
        return [
            (project_id, dataset, explicit.get((project_id, dataset), DEFAULT_HOUR_PST))
            for project_id, dataset in sorted(pairs)
        ]

    def start(
        self,
        project_id: int,
        dataset: str,
        days: Sequence[date],
        *,
        trigger: str,
        names: Sequence[str] | None = None,
        api_triggered: bool | None = None,
        idempotency_key: str | None = None,
        origin: RunOrigin | None = None,
    ) -> RunView:
        """A run over the dataset's enabled sources (or the named ones) for the days."""
        key = dataset_key(dataset)
        sources = self.catalog.list_sources(project_id, dataset=key)
        if names:
            known = {s.name for s in sources}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise InvalidInput(f"unknown {dataset} sources {unknown}")
            sources = [s for s in sources if s.name in names]
        else:
            sources = [s for s in sources if s.enabled]
        if api_triggered is not None:
            sources = [s for s in sources if s.api_triggered == api_triggered]
        if not sources:
            raise InvalidInput(f"no {'matching ' if names else 'enabled '}{dataset} sources")
        return self.runs.start_source_run(
            project_id,
            [s.name for s in sources],
            days,
            trigger=trigger,
            idempotency_key=idempotency_key,
            origin=origin,
        )

    def backfill(
        self,
        project_id: int,
        connection_type: str,
        dataset: str,
        names: Sequence[str],
        days: Sequence[date],
        *,
        then: Callable[[Transaction, str], None] | None = None,
        origin: RunOrigin | None = None,
    ) -> RunView:
        """§1.4 #7: a backfill run of the named sources of the dataset's connection type over
        the days, or (none named) of its enabled ones. ``then`` is ``Runs.start_source_run``'s
        hook (a request's answer committed with the run)."""
        sources = self.find(project_id, connection_type, dataset)
        if not sources:
            raise NotFound(f"Ingestion of type {connection_type} not found.")
        known = {s.name for s in sources}
        if any(n not in known for n in names):
            raise InvalidInput(BAD_REQUEST, hint=f"unknown source in {list(names)}")
        return self.runs.start_source_run(
            project_id,
            list(names) or sorted(s.name for s in sources if s.enabled),
            days,
            trigger="backfill",
            then=then,
            origin=origin,
        )

    def source_run(self, project_id: int, run_id: str) -> RunView:
        """A run of sources (§1.4 #10/#11 list and read only those): any other run of the
        project, like a run of another project, is not found."""
        try:
            run = self.runs.get_run(project_id, run_id)
        except NotFound:
            raise NotFound(f"runID {run_id} not found") from None
        if run.kind != "source":
            raise NotFound(f"runID {run_id} not found")
        return run

    # -- counts -------------------------------------------------------------------------------

    def event_counts(
        self,
        warehouse: Destination,
        project_id: int,
        start: date,
        end: date,
        *,
        source: str | None = None,
        event: str | None = None,
    ) -> list[EventCount]:
        """Events per day and event name that ingestd holds, with when they were loaded."""
        sources = self.catalog.list_sources(project_id, dataset="events")
        if source is not None:
            sources = [s for s in sources if s.name == source]
        if not sources:
            return []
        keys = " OR ".join("e._ingestd_load_key LIKE ?" for _ in sources)
        params: list[Any] = [f"source:{s.id}:%" for s in sources]
        where = f"({keys}) AND e._ingestd_day BETWEEN ? AND ?"
        params += [start, end]
        if event is not None:
            where += " AND e.event_name = ?"
            params.append(event)
        table = self.catalog.find_table(project_id, DATASET_TABLES["events"].qualified_name)
        if table is None or not warehouse.table_exists(table):
            return []
        # The project's own events table, joined to the project's own ledger entries.
        rows = warehouse.query(
            f"SELECT e._ingestd_day, e.event_name, count(*), max(l.loaded_at) "
            f"FROM {warehouse.table_sql(table)} e JOIN _ingestd.ledger l "
            f"ON l.project = ? AND l.load_key = e._ingestd_load_key WHERE {where} "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            [table.project, *params],
        )
        return [EventCount(d, str(e), int(n), t) for d, e, n, t in rows]
