"""``/ingestd/v1/runs`` and ``/ingestd/v1/units``: find runs, read one, cancel runs and units.

Filters and pages are applied in SQL (``RunSearch.search``); the cursor is opaque.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from ingestd.api.native.deps import Ingester, Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.paging import next_link
from ingestd.api.native.schemas import RunDetail, RunPage, RunStart, RunSummary, Unit
from ingestd.control.run_search import RunQuery
from ingestd.control.runs import day_range
from ingestd.domain.origins import RunOrigin
from ingestd.domain.paging import MAX_PAGE_LIMIT, RunCursor
from ingestd.domain.states import RunState
from ingestd.errors import InvalidInput

router = APIRouter(route_class=NativeRoute, tags=["runs"])


@router.get("/runs", responses=responses(400, 401))
def list_runs(
    request: Request,
    who: Reader,
    svc: ServicesDep,
    state: Annotated[list[RunState] | None, Query(description="Repeatable: any of")] = None,
    trigger: Annotated[list[str] | None, Query(description="Repeatable: any of")] = None,
    source: Annotated[str | None, Query(description="Runs with a unit of this source")] = None,
    day_from: Annotated[date | None, Query(description="Runs with a unit on or after")] = None,
    day_to: Annotated[date | None, Query(description="Runs with a unit on or before")] = None,
    origin: Annotated[list[RunOrigin] | None, Query(description="Repeatable: any of")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RunPage:
    """Runs newest first, filtered; follow ``next`` (or send ``cursor``) for older ones."""
    if day_from is not None and day_to is not None and day_to < day_from:
        raise InvalidInput(f"day_to ({day_to}) is before day_from ({day_from})")
    query = RunQuery(
        states=state,
        triggers=trigger,
        source=source,
        day_from=day_from,
        day_to=day_to,
        origins=origin,
    )
    page = svc.run_search.search(
        who.project_id,
        query,
        limit=limit,
        after=RunCursor.decode(cursor) if cursor is not None else None,
    )
    token = page.next.encode() if page.next is not None else None
    return RunPage(
        data=[RunSummary.of(r.run) for r in page.runs],
        total=svc.run_search.count(who.project_id, query),
        cursor=token,
        next=next_link(request, token),
    )


@router.get("/runs/{run_id}", responses=responses(400, 401, 404))
def get_run(run_id: str, who: Reader, svc: ServicesDep) -> RunDetail:
    """A run with its units, their files, attempts and history. ``run_id`` may be any unique
    start of the id (as ``ingestd runs show`` takes it); one shared by several runs is a 400."""
    found = svc.runs.resolve_run_id(who.project_id, run_id)
    return RunDetail.of(svc.runs.get_run(who.project_id, found))


@router.post("/runs/{run_id}/cancel", responses=responses(400, 401, 403, 404))
def cancel_run(run_id: str, who: Ingester, svc: ServicesDep) -> RunDetail:
    """Cancel every unit not finished: waiting ones at once, running ones at their next
    heartbeat. A run that has ended is answered as it is. ``run_id`` may be a unique start."""
    found = svc.runs.resolve_run_id(who.project_id, run_id)
    svc.runs.cancel_run(who.project_id, found)
    return RunDetail.of(svc.runs.get_run(who.project_id, found))


@router.post(
    "/sources/{name}/runs",
    status_code=201,
    responses=responses(400, 401, 403, 404),
    tags=["runs"],
)
def start_source_run(
    name: str,
    body: RunStart,
    who: Ingester,
    svc: ServicesDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=256,
            description="A repeated key returns the run it first made and starts nothing",
        ),
    ] = None,
) -> RunDetail:
    """Start a run of one source: ``day`` (trigger manual) or ``start``..``end`` (a backfill,
    one unit per day). The server's workers run it; follow it with ``GET /runs/{id}``. The same
    control call as ``ingestd run`` and the Statsig backfill."""
    if body.day is not None and (body.start is not None or body.end is not None):
        raise InvalidInput("give day, or start and end, not both", hint="one of the two forms")
    if body.day is not None:
        days, trigger = [body.day], "manual"
    elif body.start is not None and body.end is not None:
        days, trigger = day_range(body.start, body.end), "backfill"
    else:
        raise InvalidInput(
            "say which days to load", hint='{"day": "YYYY-MM-DD"} or {"start": ..., "end": ...}'
        )
    run = svc.runs.start_source_run(
        who.project_id,
        [name],
        days,
        trigger=trigger,
        idempotency_key=idempotency_key,
        origin=RunOrigin.NATIVE,
    )
    return RunDetail.of(svc.runs.get_run(who.project_id, run.id))


@router.post("/units/{unit_id}/cancel", responses=responses(400, 401, 403, 404, 409))
def cancel_unit(unit_id: str, who: Ingester, svc: ServicesDep) -> Unit:
    """Cancel one unit; 409 when it has already ended."""
    return Unit.of(svc.runs.cancel_unit(who.project_id, unit_id))
