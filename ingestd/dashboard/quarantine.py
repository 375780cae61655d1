"""``/ui/quarantine``: rows that were not loaded, by table, file and code; replay after a fix."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response

from ingestd.dashboard.web import Actor, DashboardRoute, ServicesDep, Session, page

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

_PAGE = 50


@router.get("/ui/quarantine")
def quarantine_page(
    request: Request,
    session: Session,
    svc: ServicesDep,
    table: Annotated[str | None, Query(max_length=256)] = None,
    file: Annotated[str | None, Query(max_length=1024)] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    project = session.principal.project_id
    tables = svc.catalog.list_tables(project)
    names = (
        [svc.catalog.get_table(project, table).qualified_name]
        if table
        else [t.qualified_name for t in tables]
    )
    rows, total = svc.quarantine.list(
        project,
        names,
        unit_id=unit or None,
        code=code or None,
        file=file or None,
        limit=_PAGE,
        offset=offset,
    )
    return page(
        request,
        "quarantine.html",
        session,
        rows=rows,
        total=total,
        offset=offset,
        page_size=_PAGE,
        tables=[t.qualified_name for t in tables],
        filters={"table": table or "", "file": file or "", "code": code or "", "unit": unit or ""},
    )


@router.post("/ui/quarantine/replay")
def replay(
    request: Request,
    session: Actor,
    svc: ServicesDep,
    table: Annotated[str, Form(max_length=256)],
    unit: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    result = svc.replay.replay(session.principal.project_id, table, unit_id=unit or None)
    return page(request, "replayed.html", session, table=table, unit=unit or None, result=result)
