"""``/ui/sources/{name}/preview``: the first rows of a source for a day, mapped and
validated, with their errors; nothing is committed (``Previews.preview``, as
``GET /ingestd/v1/sources/{name}/preview`` and ``ingestd sources preview``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from ingestd.dashboard.web import DashboardRoute, ServicesDep, Session, page

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

MAX_PREVIEW_ROWS = 200


@router.get("/ui/sources/{name}/preview")
def preview_page(
    request: Request,
    session: Session,
    svc: ServicesDep,
    name: str,
    day: Annotated[date, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_PREVIEW_ROWS)] = 20,
) -> Response:
    # The preview service arrives with its own change (ingestd.domain.previews); imported
    # here so that the rest of the dashboard does not depend on it.
    from ingestd.domain.previews import SourcePreview  # type: ignore[import-not-found,unused-ignore]

    project = session.principal.project_id
    source = svc.catalog.get_source(project, name)
    found: SourcePreview = svc.previews.preview(project, name, day, limit=limit)  # type: ignore[attr-defined,unused-ignore]
    return page(request, "preview.html", session, source=source, preview=found, limit=limit)
