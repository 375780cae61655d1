"""The per-day status of each source: the source x day grid an operator reads first.

For each source and day the newest unit that covered it decides the cell (a rerun replaces an
earlier failure). This is the one place that reads it, for every front end: the native
``/status`` grid (sources paged by name, keyset), ``ingestd status`` (``StatusGrids`` projects
the same cells to Statsig statuses) and Statsig's ``/ingestion/status`` list (filtered and
paged by offset). Filtering, paging and the choice of the newest unit all happen in SQL
(``store.daily_status``), so a project with many sources and runs is never loaded into memory
to answer one page. Read-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ingestd.control.run_views import UnitView
from ingestd.domain.paging import NameCursor
from ingestd.domain.states import UnitState
from ingestd.errors import InvalidInput
from ingestd.store import daily_status as sql
from ingestd.store.database import Store

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
    dataset: str | None = None


@dataclass(frozen=True)
class StatusGrid:
    days: list[date]
    rows: list[SourceRow]
    next: NameCursor | None


@dataclass(frozen=True)
class DayStatus:
    """One row of Statsig's status list: a source's newest unit on a day, with what the
    vendor's row shows of the source."""

    source: str
    dataset: str | None
    connection: str | None
    unit: UnitView
    trigger: str


@dataclass(frozen=True)
class DayStatusPage:
    rows: list[DayStatus]
    total: int


def grid_days(start: date, end: date, *, max_days: int = MAX_GRID_DAYS) -> list[date]:
    if end < start:
        raise InvalidInput(f"the day range ends ({end}) before it starts ({start})")
    count = (end - start).days + 1
    if count > max_days:
        raise InvalidInput(
            f"the status grid covers at most {max_days} days, not {count}",
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
        limit: int | None,
        after: NameCursor | None = None,
        max_days: int = MAX_GRID_DAYS,
    ) -> StatusGrid:
        """Sources of the project by name (one page of ``limit`` after ``after``; every one
        with ``limit=None``), each with the cell of every day in ``[start, end]`` that a unit
        covered. With ``states``, only cells whose newest unit is in one of them (the sources
        stay, so rows line up)."""
        days = grid_days(start, end, max_days=max_days)
        with self.store.read() as session:
            page = sql.source_names(
                session,
                project_id,
                names=sources,
                after=after.name if after is not None else None,
                limit=limit + 1 if limit is not None else None,
            )
            more = limit is not None and len(page) > limit
            page = page[:limit] if limit is not None else page
            cells = sql.grid_cells(
                session,
                project_id,
                [s.name for s in page],
                start,
                end,
                states=[s.value for s in states] if states is not None else None,
            )
        by_source: dict[str, list[DayCell]] = {s.name: [] for s in page}
        for cell in cells:
            unit = cell.unit
            assert unit.source_name is not None and unit.day is not None
            by_source[unit.source_name].append(DayCell(unit.day, UnitView.of(unit), cell.trigger))
        return StatusGrid(
            days,
            [SourceRow(s.name, by_source[s.name], s.dataset) for s in page],
            NameCursor(page[-1].name) if more else None,
        )

    def statsig_page(
        self,
        project_id: int,
        start: date,
        end: date,
        *,
        source: str | None = None,
        dataset: str | None = None,
        statuses: frozenset[str] | None = None,
        limit: int,
        offset: int,
    ) -> DayStatusPage:
        """Statsig's status rows: every source (of ``dataset``; only ``source``) and day in
        ``[start, end]`` a unit covered whose daily status is one of ``statuses``, oldest day
        first then by source name; one page and the total."""
        query = sql.StatusQuery(project_id, start, end, source, dataset, statuses or None)
        with self.store.read() as session:
            rows, total = sql.status_page(session, query, limit=limit, offset=offset)
        out = []
        for row in rows:
            assert row.unit.source_name is not None
            out.append(
                DayStatus(
                    row.unit.source_name,
                    row.dataset,
                    row.connection,
                    UnitView.of(row.unit),
                    row.trigger,
                )
            )
        return DayStatusPage(out, total)
