"""SQL of run searches: runs by time window, state, kind, trigger, source, day and origin,
paged by offset or by keyset, each with its units (and their files) and the source each unit
loaded from.

``RunSearchRepository`` is what ``control.run_search`` types against; ``SqlRunSearch`` reads
the metadata database. A page is read in a fixed number of queries (runs, their units, their
files), whatever its size. Read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, cast

from sqlalchemy import Select, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from ingestd.domain.origins import RunOrigin
from ingestd.domain.paging import RunCursor
from ingestd.domain.run_views import RunView, UnitFileRow, UnitRow, UnitView
from ingestd.domain.states import RunState
from ingestd.store.database import Store
from ingestd.store.run_lists import UNIT_VIEW_COLUMNS
from ingestd.store.run_windows import started_between
from ingestd.store.schema import Run, Unit, UnitFile


@dataclass(frozen=True)
class RunRecord:
    """A run with its units (and their files), and the source id each unit loaded from."""

    run: RunView
    source_ids: Mapping[str, int | None]
    """Unit id → id of the source it loaded (None: a blob or file unit, or a deleted source)."""


@dataclass(frozen=True)
class Window:
    """``[start, end)``; either side may be open."""

    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class RunFilter:
    created: Window = Window()
    ended: Window = Window()
    states: Sequence[tuple[RunState, bool]] | None = None
    """Allowed (state, cancel requested) pairs; None: any."""
    kinds: Sequence[str] | None = None


@dataclass(frozen=True)
class RunQuery:
    """The operator's run filters (the native API's ``GET /runs``); every field ANDs, the
    values within one field OR. ``None``: no filter on that field."""

    states: Sequence[RunState] | None = None
    triggers: Sequence[str] | None = None
    source: str | None = None
    """Runs with a unit of this source."""
    day_from: date | None = None
    day_to: date | None = None
    """Runs with a unit of a day in ``[day_from, day_to]`` (either side may be open)."""
    origins: Sequence[RunOrigin] | None = None


@dataclass(frozen=True)
class RunPage:
    runs: list[RunRecord]
    next: RunCursor | None
    """Where the next page starts; None on the last page."""


class RunSearchRepository(Protocol):
    def run(self, project_id: int, run_id: str) -> RunRecord | None: ...
    def started_between(
        self, project_id: int, start: datetime, end: datetime
    ) -> list[RunRecord]: ...
    def filtered_page(
        self, project_id: int, where: RunFilter, *, limit: int, offset: int
    ) -> tuple[list[RunRecord], int]: ...
    def count(self, project_id: int, query: RunQuery) -> int: ...
    def search(
        self, project_id: int, query: RunQuery, *, limit: int, after: RunCursor | None
    ) -> RunPage: ...


class SqlRunSearch:
    """``RunSearchRepository`` in the metadata database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def run(self, project_id: int, run_id: str) -> RunRecord | None:
        """One run of the project, with its units' files; None if the project has no such."""
        with self.store.read() as session:
            run = session.get(Run, run_id)
            if run is None or run.project_id != project_id:
                return None
            return _records(session, [run], files=True)[0]

    def started_between(self, project_id: int, start: datetime, end: datetime) -> list[RunRecord]:
        """Every run whose job started in ``[start, end)`` (``store.run_windows``), latest
        start first (ties by id, descending), with units' files."""
        with self.store.read() as session:
            return _records(session, started_between(session, project_id, start, end), files=True)

    def filtered_page(
        self, project_id: int, where: RunFilter, *, limit: int, offset: int
    ) -> tuple[list[RunRecord], int]:
        """Runs matching ``where``, newest first: one page (without files) and the total."""
        query = _filtered(select(Run).where(Run.project_id == project_id), where)
        with self.store.read() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            runs = session.scalars(
                query.order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
            ).all()
            return _records(session, runs, files=False), int(total)

    def count(self, project_id: int, query: RunQuery) -> int:
        matching = _queried(select(Run).where(Run.project_id == project_id), query)
        with self.store.read() as session:
            return int(session.scalar(select(func.count()).select_from(matching.subquery())) or 0)

    def search(
        self, project_id: int, query: RunQuery, *, limit: int, after: RunCursor | None
    ) -> RunPage:
        """Runs matching ``query``, newest first (ties by id), at most ``limit`` after
        ``after`` (keyset pagination: pages stay stable while runs are added)."""
        select_runs = _queried(select(Run).where(Run.project_id == project_id), query)
        if after is not None:
            select_runs = select_runs.where(
                or_(
                    Run.created_at < after.created_at,
                    and_(Run.created_at == after.created_at, Run.id < after.run_id),
                )
            )
        ordered = select_runs.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit + 1)
        with self.store.read() as session:
            runs = list(session.scalars(ordered).all())
            more = len(runs) > limit
            runs = runs[:limit]
            records = _records(session, runs, files=False)
        last = runs[-1] if more else None
        return RunPage(records, RunCursor(last.created_at, last.id) if last else None)


def _queried(select_runs: Select[Run], query: RunQuery) -> Select[Run]:
    if query.states is not None:
        select_runs = select_runs.where(Run.state.in_([s.value for s in query.states]))
    if query.triggers is not None:
        select_runs = select_runs.where(Run.trigger.in_(list(query.triggers)))
    if query.origins is not None:
        select_runs = select_runs.where(Run.origin.in_([o.value for o in query.origins]))
    unit_conditions = []
    if query.source is not None:
        unit_conditions.append(Unit.source_name == query.source)
    if query.day_from is not None:
        unit_conditions.append(Unit.day >= query.day_from)
    if query.day_to is not None:
        unit_conditions.append(Unit.day <= query.day_to)
    if unit_conditions:
        select_runs = select_runs.where(exists().where(Unit.run_id == Run.id, *unit_conditions))
    return select_runs


def _filtered(query: Select[Run], where: RunFilter) -> Select[Run]:
    for column, window in ((Run.created_at, where.created), (Run.ended_at, where.ended)):
        if window.start is not None:
            query = query.where(column >= window.start)
        if window.end is not None:
            query = query.where(column < window.end)
    if where.states is not None:
        query = query.where(
            or_(
                false(),
                *(
                    and_(Run.state == state.value, Run.cancel_requested.is_(stop))
                    for state, stop in where.states
                ),
            )
        )
    if where.kinds is not None:
        query = query.where(Run.kind.in_(list(where.kinds)))
    return query


FILE_VIEW_COLUMNS = (
    UnitFile.unit_id,
    UnitFile.position,
    UnitFile.name,
    UnitFile.skipped,
    UnitFile.read,
    UnitFile.inserted,
    UnitFile.updated,
    UnitFile.rejected,
    UnitFile.errors,
)
"""What ``UnitFileRow`` reads, with the unit each file belongs to."""


class _SourcedUnitRow(UnitRow, Protocol):
    """A row of ``UNIT_VIEW_COLUMNS`` and ``Unit.source_id``."""

    @property
    def source_id(self) -> int | None: ...


def _records(session: Session, runs: Iterable[Run], *, files: bool) -> list[RunRecord]:
    runs = list(runs)
    ids = [r.id for r in runs]
    if not ids:
        return []
    # Plain rows of the columns the views show, not ORM units (store/run_lists.py says why:
    # a page of runs may carry thousands of units).
    units = cast(
        list[_SourcedUnitRow],
        session.execute(
            select(*UNIT_VIEW_COLUMNS, Unit.source_id)
            .where(Unit.run_id.in_(ids))
            .order_by(Unit.run_id, Unit.position)
        ).all(),
    )
    by_unit: dict[str, list[UnitFileRow]] = {}
    if files:
        for f in session.execute(
            select(*FILE_VIEW_COLUMNS)
            .join(Unit, Unit.id == UnitFile.unit_id)
            .where(Unit.run_id.in_(ids))
        ):
            by_unit.setdefault(f.unit_id, []).append(cast(UnitFileRow, f))
    by_run: dict[str, list[_SourcedUnitRow]] = {}
    for unit in units:
        by_run.setdefault(unit.run_id, []).append(unit)
    out = []
    for run in runs:
        mine = by_run.get(run.id, [])
        views = [UnitView.of(u, by_unit.get(u.id)) for u in mine]
        out.append(RunRecord(RunView.of(run, views), {u.id: u.source_id for u in mine}))
    return out
