"""``/``: the status grid (sources x the last N days), and ``/ui/days/{source}/{day}``: one
cell opened (the units that covered the day, their attempts and errors, quarantined rows)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ingestd.control.daily_status import MAX_GRID_DAYS
from ingestd.control.run_search import RunQuery
from ingestd.control.scheduler import pst_today
from ingestd.dashboard.web import DashboardRoute, ServicesDep, Session, page
from ingestd.domain.paging import NameCursor

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

_DAY_RUNS = 10
"""Runs shown on a day's page (newest first): enough to see the attempts that led to it."""


@router.get("/")
def grid(
    request: Request,
    session: Session,
    svc: ServicesDep,
    days: Annotated[int, Query(ge=1, le=MAX_GRID_DAYS)] = 14,
    end: Annotated[date | None, Query()] = None,
    after: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    # Days are the scheduler's days (Pacific), as the Statsig status endpoint counts them.
    last = end or pst_today(svc.clock())
    first = last - timedelta(days=days - 1)
    found = svc.daily_status.grid(
        session.principal.project_id,
        first,
        last,
        limit=50,
        after=NameCursor(after) if after else None,
    )
    return page(
        request,
        "grid.html",
        session,
        grid=found,
        cells={(row.source, cell.day): cell for row in found.rows for cell in row.cells},
        days=days,
        end=last,
        earlier=first - timedelta(days=1),
        later=last + timedelta(days=days),
    )


@router.get("/ui/days/{source}/{day}")
def day_page(
    request: Request, session: Session, svc: ServicesDep, source: str, day: date
) -> Response:
    project = session.principal.project_id
    spec = svc.catalog.get_source(project, source)  # NotFound for another project's source
    found = svc.run_search.search(
        project, RunQuery(source=source, day_from=day, day_to=day), limit=_DAY_RUNS
    )
    units = [
        (record.run, unit)
        for record in found.runs
        for unit in svc.runs.get_run(project, record.run.id).units
        if unit.source_name == source and unit.day == day
    ]
    newest = units[0][1] if units else None
    quarantined, total = (
        svc.quarantine.list(project, [spec.table], unit_id=newest.id, limit=10)
        if newest is not None
        else ([], 0)
    )
    return page(
        request,
        "day.html",
        session,
        source=spec,
        day=day,
        units=units,
        quarantined=quarantined,
        quarantined_total=total,
    )
