"""``/ingestd/v1/status``: the per-day status of each source, as a source x day grid."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from ingestd.api.native.deps import Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.paging import next_link
from ingestd.api.native.schemas import StatusGridOut
from ingestd.domain.paging import MAX_PAGE_LIMIT, NameCursor
from ingestd.domain.states import UnitState

router = APIRouter(route_class=NativeRoute, tags=["status"])


@router.get("/status", responses=responses(400, 401))
def status_grid(
    request: Request,
    who: Reader,
    svc: ServicesDep,
    start: Annotated[date, Query(description="First day (YYYY-MM-DD)")],
    end: Annotated[date, Query(description="Last day, at most 92 days after start")],
    source: Annotated[list[str] | None, Query(description="Repeatable: only these")] = None,
    state: Annotated[
        list[UnitState] | None, Query(description="Repeatable: only cells in these states")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT, description="Sources per page")] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> StatusGridOut:
    """One row per source (by name), one cell per day its newest unit covered."""
    grid = svc.daily_status.grid(
        who.project_id,
        start,
        end,
        sources=source,
        states=state,
        limit=limit,
        after=NameCursor.decode(cursor) if cursor is not None else None,
    )
    token = grid.next.encode() if grid.next is not None else None
    return StatusGridOut.of(grid, token, next_link(request, token))
