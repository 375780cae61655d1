"""``/ui/sources``: sources (schedule, enabled, last status) and connections; a source's page
with its backfill form (a run through ``Runs.start_source_run``, as ``ingestd run`` starts)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from ingestd.control.runs import day_range
from ingestd.control.scheduler import pst_today
from ingestd.dashboard.web import Actor, DashboardRoute, ServicesDep, Session, page
from ingestd.domain.origins import RunOrigin

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

_LAST_STATUS_DAYS = 14
"""How far back a source's "last status" is looked for."""


@router.get("/ui/sources")
def sources_page(request: Request, session: Session, svc: ServicesDep) -> Response:
    project = session.principal.project_id
    sources = svc.catalog.list_sources(project)
    today = pst_today(svc.clock())
    grid = svc.daily_status.grid(
        project,
        today - timedelta(days=_LAST_STATUS_DAYS - 1),
        today,
        sources=[s.name for s in sources],
        limit=max(1, len(sources)),
    )
    last = {row.source: row.cells[-1] for row in grid.rows if row.cells}
    return page(
        request,
        "sources.html",
        session,
        sources=sources,
        last=last,
        connections=svc.catalog.list_connections(project),
    )


@router.get("/ui/sources/{name}")
def source_page(request: Request, session: Session, svc: ServicesDep, name: str) -> Response:
    source = svc.catalog.get_source(session.principal.project_id, name)
    today = pst_today(svc.clock())
    return page(request, "source.html", session, source=source, today=today)


@router.post("/ui/sources/{name}/backfill")
def backfill(
    session: Actor,
    svc: ServicesDep,
    name: str,
    start: Annotated[date, Form()],
    end: Annotated[date, Form()],
) -> Response:
    run = svc.runs.start_source_run(
        session.principal.project_id,
        [name],
        day_range(start, end),
        trigger="backfill",
        origin=RunOrigin.DASHBOARD,
    )
    return RedirectResponse(f"/ui/runs/{run.id}", status_code=303)
