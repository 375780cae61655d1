"""``/ui/runs``: runs filtered like ``GET /ingestd/v1/runs``; a run's page with its units'
timelines, per-file counts, live progress (a fragment polled each second) and cancel."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from ingestd.control.run_search import RunQuery
from ingestd.dashboard.web import Actor, DashboardRoute, ServicesDep, Session, page
from ingestd.domain.origins import RunOrigin
from ingestd.domain.paging import RunCursor
from ingestd.domain.states import RunState
from ingestd.errors import InvalidInput

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

TRIGGERS = ("manual", "backfill", "scheduled", "queued", "stream", "reload", "api")
"""Triggers offered in the filter (any other may still be typed into the URL)."""


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.get("/ui/runs")
def runs_page(
    request: Request,
    session: Session,
    svc: ServicesDep,
    state: Annotated[str | None, Query()] = None,
    trigger: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=256)] = None,
    origin: Annotated[str | None, Query()] = None,
    day_from: Annotated[str | None, Query()] = None,
    day_to: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    # An empty <select> sends "": that means "any", not an invalid value.
    try:
        states = [RunState(s)] if (s := _blank(state)) else None
        origins = [RunOrigin(o)] if (o := _blank(origin)) else None
        first = date.fromisoformat(f) if (f := _blank(day_from)) else None
        last = date.fromisoformat(t) if (t := _blank(day_to)) else None
    except ValueError as exc:
        raise InvalidInput(f"a filter is not valid: {exc}") from None
    found = svc.run_search.search(
        session.principal.project_id,
        RunQuery(
            states=states,
            triggers=[t] if (t := _blank(trigger)) else None,
            source=_blank(source),
            day_from=first,
            day_to=last,
            origins=origins,
        ),
        limit=50,
        after=RunCursor.decode(cursor) if cursor else None,
    )
    return page(
        request,
        "runs.html",
        session,
        runs=[r.run for r in found.runs],
        next_cursor=found.next.encode() if found.next else None,
        filters={
            "state": state or "",
            "trigger": trigger or "",
            "source": source or "",
            "origin": origin or "",
            "day_from": day_from or "",
            "day_to": day_to or "",
        },
        states=list(RunState),
        origins=list(RunOrigin),
        triggers=TRIGGERS,
    )


@router.get("/ui/runs/{run_id}")
def run_page(request: Request, session: Session, svc: ServicesDep, run_id: str) -> Response:
    run = svc.runs.get_run(session.principal.project_id, run_id)
    return page(request, "run.html", session, run=run, flash=request.query_params.get("done"))


@router.get("/ui/runs/{run_id}/progress")
def run_progress(request: Request, session: Session, svc: ServicesDep, run_id: str) -> Response:
    """The counts of a run's units, as an HTML fragment the run page polls while it runs."""
    run = svc.runs.get_run(session.principal.project_id, run_id, history=False)
    return page(request, "run_progress.html", session, run=run)


@router.post("/ui/runs/{run_id}/cancel")
def cancel(session: Actor, svc: ServicesDep, run_id: str) -> Response:
    svc.runs.cancel_run(session.principal.project_id, run_id)
    return RedirectResponse(f"/ui/runs/{run_id}?done=cancel", status_code=303)
