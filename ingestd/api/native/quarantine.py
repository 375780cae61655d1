"""``/ingestd/v1/quarantine``: rows that were not loaded, and their replay after a fix."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ingestd.api.native.deps import Ingester, Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.paging import next_link
from ingestd.api.native.schemas import QuarantinePage, QuarantineRow, Replay, ReplayRequest
from ingestd.domain.paging import MAX_PAGE_LIMIT, OffsetCursor

router = APIRouter(route_class=NativeRoute, tags=["quarantine"])


@router.get("/quarantine", responses=responses(400, 401, 404))
def list_quarantine(
    request: Request,
    who: Reader,
    svc: ServicesDep,
    table: Annotated[str | None, Query(description="namespace.name (default: every table)")] = None,
    code: Annotated[str | None, Query(description="Only rows with this error code")] = None,
    unit_id: Annotated[str | None, Query(description="Only rows of this unit")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_LIMIT)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> QuarantinePage:
    """Quarantined rows of the project's tables, oldest first."""
    if table is not None:
        names = [svc.catalog.get_table(who.project_id, table).qualified_name]
    else:
        names = [t.qualified_name for t in svc.catalog.list_tables(who.project_id)]
    offset = OffsetCursor.decode(cursor).offset if cursor is not None else 0
    rows, total = svc.quarantine.list(
        who.project_id, names, unit_id=unit_id, code=code, limit=limit, offset=offset
    )
    more = offset + len(rows) < total
    token = OffsetCursor(offset + len(rows)).encode() if more else None
    return QuarantinePage(
        data=[QuarantineRow.of(r) for r in rows],
        total=total,
        cursor=token,
        next=next_link(request, token),
    )


@router.post("/quarantine/replay", responses=responses(400, 401, 403, 404))
def replay(body: ReplayRequest, who: Ingester, svc: ServicesDep) -> Replay:
    """Load a table's quarantined rows again (after fixing its mapping or columns); rows that
    still fail stay quarantined."""
    return Replay.of(svc.replay.replay(who.project_id, body.table, unit_id=body.unit_id))
