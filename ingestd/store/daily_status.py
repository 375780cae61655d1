"""SQL behind every daily status read: the newest unit of each source and day.

``source_days`` holds one row per source and day of a project, pointing at the newest unit
that covered it; ``Runs.create_run`` keeps it (``record_newest``) in the units' transaction.
The Statsig ``/ingestion/status`` list, the native ``/status`` grid and ``ingestd status``
all read through here, filtering and paging in the database (indexes from migration 0010).
The Statsig list's total and deep pages read the kept counts of ``store.status_counts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from ingestd.domain.projections import STATSIG_DAILY_STATUSES
from ingestd.domain.run_views import UnitRow
from ingestd.store import status_counts
from ingestd.store.database import upsert_for
from ingestd.store.run_lists import UNIT_VIEW_COLUMNS
from ingestd.store.schema import Connection, Run, Source, SourceDay, Unit
from ingestd.store.statsig_status import matches, statsig_status_sql


@dataclass(frozen=True)
class UnitDay:
    """A new unit of one source and day (what ``record_newest`` is told)."""

    project_id: int
    source_name: str
    day: date
    unit_id: str
    created_at: datetime
    position: int


@dataclass(frozen=True)
class NewestUnit:
    """The newest unit of a source and day, with its run's trigger and its source's dataset
    and connection name."""

    unit: UnitRow
    """A row of the view's columns (``run_lists.UNIT_VIEW_COLUMNS``), not an ORM object, as the
    run lists read theirs: nothing here writes a unit, so no identity map or instance state."""
    trigger: str
    dataset: str | None
    connection: str | None


@dataclass(frozen=True)
class StatusQuery:
    """Statsig's ``/ingestion/status`` filters; every field ANDs. ``None``: no filter."""

    project_id: int
    start: date
    end: date
    source: str | None = None
    dataset: str | None = None
    statuses: frozenset[str] | None = None
    """Statsig daily statuses (``%Other`` included), OR-ed."""


def record_newest(session: Session, units: Sequence[UnitDay]) -> None:
    """Make each unit the newest of its source and day unless a newer one is there already
    (a concurrent run that committed first with a later ``created_at``); each cell this
    creates is counted (``store.status_counts``)."""
    newest: dict[tuple[int, str, date], UnitDay] = {}
    for unit in units:  # one row per key: one INSERT may not touch a row twice
        key = (unit.project_id, unit.source_name, unit.day)
        if key not in newest or unit.position > newest[key].position:
            newest[key] = unit
    if not newest:
        return
    status_counts.lock_for_cells(session, {u.project_id for u in newest.values()})
    # Key order (day, then source, as the lists read them): two runs inserting some of the
    # same cells wait for each other in one order, never in a cycle.
    rows = [
        {
            "project_id": u.project_id,
            "source_name": u.source_name,
            "day": u.day,
            "unit_id": u.unit_id,
            "created_at": u.created_at,
            "position": u.position,
        }
        for u in sorted(newest.values(), key=lambda u: (u.project_id, u.day, u.source_name))
    ]
    insert = upsert_for(session)
    # New cells first: RETURNING names only the rows this INSERT created (on both backends),
    # which is what the counts need; a cell another transaction is creating is waited for.
    created = {
        (project_id, name, day)
        for project_id, name, day in session.execute(
            insert(SourceDay)
            .on_conflict_do_nothing(
                index_elements=[SourceDay.project_id, SourceDay.source_name, SourceDay.day]
            )
            .returning(SourceDay.project_id, SourceDay.source_name, SourceDay.day),
            rows,
        ).tuples()
    }
    existing = [r for r in rows if (r["project_id"], r["source_name"], r["day"]) not in created]
    if existing:
        statement = insert(SourceDay)
        later = statement.excluded
        upsert = statement.on_conflict_do_update(
            index_elements=[SourceDay.project_id, SourceDay.source_name, SourceDay.day],
            set_={
                "unit_id": later.unit_id,
                "created_at": later.created_at,
                "position": later.position,
            },
            where=or_(
                SourceDay.created_at < later.created_at,
                and_(
                    SourceDay.created_at == later.created_at,
                    SourceDay.position <= later.position,
                ),
            ),
        )
        session.execute(upsert, existing)
    status_counts.count_new_cells(session, [status_counts.CellKey(*key) for key in created])


def _status_filter(query: StatusQuery) -> Select[str]:
    """The unit ids of the query's cells (only sources that still exist, as by name)."""
    ids = (
        select(SourceDay.unit_id)
        .join(
            Source,
            and_(Source.project_id == SourceDay.project_id, Source.name == SourceDay.source_name),
        )
        .where(
            SourceDay.project_id == query.project_id,
            SourceDay.day >= query.start,
            SourceDay.day <= query.end,
        )
    )
    if query.source is not None:
        ids = ids.where(SourceDay.source_name == query.source)
    if query.dataset is not None:
        ids = ids.where(Source.dataset == query.dataset)
    if query.statuses:
        ids = ids.join(Unit, Unit.id == SourceDay.unit_id).join(Run, Run.id == Unit.run_id)
        status = statsig_status_sql(
            Unit.state, Run.trigger, Unit.inserted + Unit.updated, Unit.error_code, Source.dataset
        )
        ids = ids.where(matches(status, query.statuses, STATSIG_DAILY_STATUSES))
    return ids


def status_page(
    session: Session, query: StatusQuery, *, limit: int, offset: int
) -> tuple[list[NewestUnit], int]:
    """One page of the query's cells, oldest day first then by source name, and the total."""
    ids = _status_filter(query)
    if query.statuses or query.source is not None:
        # A status needs each cell's unit: counted cell by cell. One source's cells are a
        # primary-key range of at most one per day: O(days) already.
        total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
        page = _page_ids(session, ids, limit, offset)
    else:
        # The kept counts (store.status_counts) give the total and the day the page starts
        # on, so a deep page skips at most that day's cells, not every cell before it.
        total = status_counts.cells_between(
            session, query.project_id, query.start, query.end, query.dataset
        )
        start = (
            status_counts.page_start(
                session, query.project_id, query.start, query.end, query.dataset, offset
            )
            if 0 < offset < total
            else None
        )
        if start is not None:
            page = _page_ids(session, ids.where(SourceDay.day >= start.day), limit, start.skip)
        else:  # the first page, or one past the last cell (no query: nothing is there)
            page = _page_ids(session, ids, limit, 0) if offset == 0 < total else []
    rows = _units_by_id(session, query.project_id, page) if page else []
    order = {unit_id: i for i, unit_id in enumerate(page)}
    rows.sort(key=lambda row: order[row.unit.id])
    return rows, int(total)


def _page_ids(session: Session, ids: Select[str], limit: int, offset: int) -> list[str]:
    # The page's ids first (an index range scan that stops after offset + limit rows), then
    # their units: a deep page never joins the rows it skips.
    ordered = ids.order_by(SourceDay.day, SourceDay.source_name)
    return list(session.scalars(ordered.limit(limit).offset(offset)))


def grid_cells(
    session: Session,
    project_id: int,
    names: Sequence[str],
    start: date,
    end: date,
    *,
    states: Sequence[str] | None = None,
) -> list[NewestUnit]:
    """The newest unit of each of ``names`` on each day of ``[start, end]`` that one covered
    (with ``states``: only cells in one of them), by source name then day."""
    if not names:
        return []
    where = and_(
        SourceDay.project_id == project_id,
        SourceDay.source_name.in_(list(names)),
        SourceDay.day >= start,
        SourceDay.day <= end,
    )
    if states is not None:
        where = and_(where, Unit.state.in_(list(states)))
    return _newest_units(session, project_id, where)


NEWEST_UNIT_COLUMNS = (
    *UNIT_VIEW_COLUMNS,
    Run.trigger,
    Source.dataset,
    Connection.name.label("connection_name"),
)


class NewestUnitRow(UnitRow, Protocol):
    """A row of ``NEWEST_UNIT_COLUMNS``: the unit's columns, its run's trigger, its source's
    dataset and connection."""

    @property
    def trigger(self) -> str: ...
    @property
    def dataset(self) -> str | None: ...
    @property
    def connection_name(self) -> str | None: ...


def _as_rows(rows: Sequence[Any]) -> list[NewestUnitRow]:
    # Each row has an attribute per column of NEWEST_UNIT_COLUMNS, which is all it asks.
    return cast(list[NewestUnitRow], rows)


def _newest_of(session: Session, query: Select[*tuple[Any, ...]]) -> list[NewestUnit]:
    rows = _as_rows(session.execute(query).all())
    return [NewestUnit(row, row.trigger, row.dataset, row.connection_name) for row in rows]


_UNITS_BY_ID = (
    select(*NEWEST_UNIT_COLUMNS)
    .join(Run, Run.id == Unit.run_id)
    .outerjoin(Source, and_(Source.project_id == Unit.project_id, Source.name == Unit.source_name))
    .outerjoin(Connection, Connection.id == Source.connection_id)
    .where(
        Unit.project_id == bindparam("project_id"),
        Unit.id.in_(bindparam("ids", expanding=True)),
    )
)
"""A status page's units, built once (every page of every poll runs it): SQLAlchemy computes
its cache key once instead of building the statement and its key on every call."""


def _units_by_id(session: Session, project_id: int, ids: Sequence[str]) -> list[NewestUnit]:
    """These units (by primary key: source_days has no index on unit_id, none is needed)."""
    rows = session.execute(_UNITS_BY_ID, {"project_id": project_id, "ids": list(ids)}).all()
    return [NewestUnit(r, r.trigger, r.dataset, r.connection_name) for r in _as_rows(rows)]


def _newest_units(
    session: Session, project_id: int, where: ColumnElement[bool]
) -> list[NewestUnit]:
    query = (
        select(*NEWEST_UNIT_COLUMNS)
        .select_from(SourceDay)
        .join(Unit, Unit.id == SourceDay.unit_id)
        .join(Run, Run.id == Unit.run_id)
        .outerjoin(
            Source,
            and_(Source.project_id == SourceDay.project_id, Source.name == SourceDay.source_name),
        )
        .outerjoin(Connection, Connection.id == Source.connection_id)
        .where(SourceDay.project_id == project_id, where)
        .order_by(SourceDay.source_name, SourceDay.day)
    )
    return _newest_of(session, query)


@dataclass(frozen=True)
class SourceName:
    name: str
    dataset: str | None


def source_names(
    session: Session,
    project_id: int,
    *,
    names: Sequence[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[SourceName]:
    """The project's sources by name (only ``names``; after ``after``; at most ``limit``)."""
    query = select(Source.name, Source.dataset).where(Source.project_id == project_id)
    if names is not None:
        query = query.where(Source.name.in_(list(names)))
    if after is not None:
        query = query.where(Source.name > after)
    query = query.order_by(Source.name)
    if limit is not None:
        query = query.limit(limit)
    return [SourceName(name, dataset) for name, dataset in session.execute(query)]
