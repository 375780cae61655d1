"""The source x day status grid: for each source of a project and each day, the daily status
of the newest unit that covered it, as Statsig's ``/ingestion/status`` reports it.

Read through the one daily-status reader (``DailyStatus``, the native ``/status`` grid's) and
projected as ``/ingestion/status`` projects (``statsig_daily_status``), so the terminal view
(``ingestd status``) and the APIs agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ingestd.control.catalog import Catalog
from ingestd.control.daily_status import DailyStatus, DayCell
from ingestd.control.runs import MAX_DAYS_PER_RUN
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

    @classmethod
    def of(
        cls,
        day: date,
        state: UnitState,
        *,
        trigger: str,
        rows: int,
        error_code: str | None,
        unit_id: str,
        dataset: str,
    ) -> StatusCell:
        """The cell of a unit (here or read from a server): its Statsig daily status follows
        from its state, its run's trigger, the rows it loaded, its error and the dataset."""
        return cls(
            day=day,
            status=statsig_daily_status(
                state, trigger=trigger, rows_loaded=rows, error_code=error_code, dataset=dataset
            ),
            state=state,
            rows=rows,
            error_code=error_code,
            unit_id=unit_id,
        )


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
    def __init__(self, catalog: Catalog, daily_status: DailyStatus) -> None:
        self.catalog = catalog
        self.daily_status = daily_status

    def grid(
        self, project_id: int, *, end: date, days: int, source: str | None = None
    ) -> StatusGrid:
        """The ``days`` days ending on ``end`` for every source (or only ``source``)."""
        if not 1 <= days <= MAX_DAYS_PER_RUN:
            raise InvalidInput(
                f"the grid covers 1 to {MAX_DAYS_PER_RUN} days, not {days}",
                hint="pass --days between 1 and 366",
            )
        if source is not None:
            self.catalog.get_source(project_id, source)  # an unknown name is NotFound
        start = end - timedelta(days=days - 1)
        read = self.daily_status.grid(
            project_id,
            start,
            end,
            sources=[source] if source is not None else None,
            limit=None,
            max_days=MAX_DAYS_PER_RUN,
        )
        span = tuple(read.days)
        rows = []
        for row in read.rows:
            by_day = {cell.day: _cell(cell, row.dataset or "") for cell in row.cells}
            rows.append(SourceStatus(row.source, row.dataset, tuple(by_day.get(d) for d in span)))
        return StatusGrid(days=span, sources=tuple(rows))


def _cell(cell: DayCell, dataset: str) -> StatusCell:
    unit = cell.unit
    return StatusCell.of(
        cell.day,
        unit.state,
        trigger=cell.trigger,
        rows=unit.counts.inserted + unit.counts.updated,
        error_code=unit.error_code,
        unit_id=unit.id,
        dataset=dataset,
    )
