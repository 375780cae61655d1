"""The source x day status grid: for each source of a project and each day, the daily status
of the newest unit that covered it, as Statsig's ``/ingestion/status`` reports it.

Built from the same reads as that route (``Runs.latest_units_by_day``) and the same projection
(``statsig_daily_status``), so the terminal view (``ingestd status``) and the API agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ingestd.control.catalog import Catalog
from ingestd.control.runs import MAX_DAYS_PER_RUN, Runs
from ingestd.domain.projections import statsig_daily_status
from ingestd.domain.states import UnitState
from ingestd.errors import InvalidInput


@dataclass(frozen=True)
class StatusCell:
    """One source on one day."""

    day: date
    status: str
    """The Statsig daily status (IMPORT_SUCCESSFUL, LOADED_EMPTY_DATA, *_ERROR, ...)."""
    state: UnitState
    rows: int
    """Rows loaded (inserted + updated), Statsig's ``rowCount``."""
    error_code: str | None
    unit_id: str


@dataclass(frozen=True)
class SourceStatus:
    source: str
    dataset: str | None
    cells: tuple[StatusCell | None, ...]
    """One per day of the grid, oldest first; None where no unit covered the day."""


@dataclass(frozen=True)
class StatusGrid:
    days: tuple[date, ...]
    sources: tuple[SourceStatus, ...]


class StatusGrids:
    def __init__(self, catalog: Catalog, runs: Runs) -> None:
        self.catalog = catalog
        self.runs = runs

    def grid(
        self, project_id: int, *, end: date, days: int, source: str | None = None
    ) -> StatusGrid:
        """The ``days`` days ending on ``end`` for every source (or only ``source``)."""
        if not 1 <= days <= MAX_DAYS_PER_RUN:
            raise InvalidInput(
                f"the grid covers 1 to {MAX_DAYS_PER_RUN} days, not {days}",
                hint="pass --days between 1 and 366",
            )
        sources = (
            self.catalog.list_sources(project_id)
            if source is None
            else [self.catalog.get_source(project_id, source)]
        )
        datasets = {s.name: s.dataset or "" for s in sources}
        start = end - timedelta(days=days - 1)
        span = tuple(start + timedelta(days=i) for i in range(days))
        names = [s.name for s in sources]
        cells: dict[tuple[str, date], StatusCell] = {}
        for unit, trigger in self.runs.latest_units_by_day(project_id, start, end, names):
            if unit.source_name not in datasets or unit.day is None:
                continue
            rows = unit.counts.inserted + unit.counts.updated
            cells[(unit.source_name, unit.day)] = StatusCell(
                day=unit.day,
                status=statsig_daily_status(
                    unit.state,
                    trigger=trigger,
                    rows_loaded=rows,
                    error_code=unit.error_code,
                    dataset=datasets.get(unit.source_name, ""),
                ),
                state=unit.state,
                rows=rows,
                error_code=unit.error_code,
                unit_id=unit.id,
            )
        return StatusGrid(
            days=span,
            sources=tuple(
                SourceStatus(s.name, s.dataset, tuple(cells.get((s.name, d)) for d in span))
                for s in sources
            ),
        )
