"""``/ui/kusto``: the project's Kusto queued-ingestion operations, blob by blob."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ingestd.control.run_search import RunQuery
from ingestd.dashboard.web import DashboardRoute, ServicesDep, Session, page
from ingestd.domain.operation_ids import operation_id
from ingestd.domain.origins import RunOrigin
from ingestd.domain.paging import RunCursor

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@router.get("/ui/kusto")
def operations(
    request: Request,
    session: Session,
    svc: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    project = session.principal.project_id
    found = svc.run_search.search(
        project,
        RunQuery(origins=[RunOrigin.KUSTO]),
        limit=20,
        after=RunCursor.decode(cursor) if cursor else None,
    )
    # Each operation as the Kusto dialect reads it (QueuedIngestion.get: the id, database,
    # table), with its blobs (units) and their files.
    queued = svc.kusto_queues.queued
    ops = []
    for record in found.runs:
        run = record.run
        database, table = str(run.request.get("database")), str(run.request.get("table"))
        ops.append(queued.get(project, operation_id(run.id, database, table)))
    return page(
        request,
        "kusto.html",
        session,
        operations=ops,
        next_cursor=found.next.encode() if found.next else None,
    )
