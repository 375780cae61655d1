"""The per-day status of each source: the source x day grid an operator reads first.

For each source and day the newest unit that covered it decides the cell (a rerun replaces an
earlier failure). Both the paging (sources by name, keyset) and the choice of the newest unit
(a window function) happen in SQL, so a project with many sources and runs is never loaded
into memory to answer one page. Read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingestd.control.run_views import UnitView
from ingestd.domain.paging import NameCursor
from ingestd.domain.states import UnitState
from ingestd.errors import InvalidInput
from ingestd.store.database import Store
from ingestd.store.schema import Run, Source, Unit

MAX_GRID_DAYS = 92
"""A grid covers at most a quarter: wider asks are refused, not truncated."""


@dataclass(frozen=True)
class DayCell:
    """One source's status on one day: its newest unit and that unit's run trigger."""

    day: date
    unit: UnitView
    trigger: str


@dataclass(frozen=True)
class SourceRow:
    source: str
    cells: list[DayCell]
    """Days with a unit, oldest first; a day without one has no cell (nothing ran for it)."""


@dataclass(frozen=True)
class StatusGrid:
    days: list[date]
    rows: list[SourceRow]
    next: NameCursor | None


def grid_days(start: date, end: date) -> list[date]:
    if end < start:
        raise InvalidInput(f"the day range ends ({end}) before it starts ({start})")
    count = (end - start).days + 1
    if count > MAX_GRID_DAYS:
        raise InvalidInput(
            f"the status grid covers at most {MAX_GRID_DAYS} days, not {count}",
            hint="ask for a shorter range and page through it",
        )
    return [date.fromordinal(start.toordinal() + i) for i in range(count)]


class DailyStatus:
    def __init__(self, store: Store) -> None:
        self.store = store

    def grid(
        self,
        project_id: int,
        start: date,
        end: date,
        *,
        sources: Sequence[str] | None = None,
        states: Sequence[UnitState] | None = None,
        limit: int,
        after: NameCursor | None = None,
    ) -> StatusGrid:
        """Sources of the project by name (one page of ``limit`` after ``after``), each with
        the cell of every day in ``[start, end]`` that a unit covered. With ``states``, only
        cells whose newest unit is in one of them (the sources stay, so rows line up)."""
        days = grid_days(start, end)
        names = select(Source.name).where(Source.project_id == project_id)
        if sources is not None:
            names = names.where(Source.name.in_(list(sources)))
        if after is not None:
            names = names.where(Source.name > after.name)
        with self.store.read() as session:
            page = list(session.scalars(names.order_by(Source.name).limit(limit + 1)))
            more = len(page) > limit
            page = page[:limit]
            cells = self._newest_units(session, project_id, page, start, end, states)
        by_source: dict[str, list[DayCell]] = {name: [] for name in page}
        for cell_source, cell in cells:
            by_source[cell_source].append(cell)
        return StatusGrid(
            days,
            [SourceRow(name, by_source[name]) for name in page],
            NameCursor(page[-1]) if more else None,
        )

    @staticmethod
    def _newest_units(
        session: Session,
        project_id: int,
        names: list[str],
        start: date,
        end: date,
        states: Sequence[UnitState] | None,
    ) -> list[tuple[str, DayCell]]:
        if not names:
            return []
        rank = (
            func.row_number()
            .over(
                partition_by=(Unit.source_name, Unit.day),
                order_by=(Unit.created_at.desc(), Unit.position.desc()),
            )
            .label("rank")
        )
        ranked = (
            select(Unit.id.label("unit_id"), Run.trigger.label("trigger"), rank)
            .join(Run, Run.id == Unit.run_id)
            .where(
                Unit.project_id == project_id,
                Unit.source_name.in_(names),
                Unit.day >= start,
                Unit.day <= end,
            )
            .subquery()
        )
        newest = select(Unit, ranked.c.trigger).join(ranked, ranked.c.unit_id == Unit.id)
        newest = newest.where(ranked.c.rank == 1)
        if states is not None:
            newest = newest.where(Unit.state.in_([s.value for s in states]))
        rows = session.execute(newest.order_by(Unit.source_name, Unit.day)).all()
        out = []
        for unit, trigger in rows:
            assert unit.source_name is not None and unit.day is not None
            out.append((unit.source_name, DayCell(unit.day, UnitView.of(unit), trigger)))
        return out
