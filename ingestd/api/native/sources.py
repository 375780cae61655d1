"""``/ingestd/v1/sources``: what is loaded from where into which table."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from ingestd.api.native.deps import Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import Source, SourceList, SourcePreviewOut
from ingestd.domain.datasets import dataset_key
from ingestd.domain.previews import DEFAULT_PREVIEW_ROWS, MAX_PREVIEW_ROWS

router = APIRouter(route_class=NativeRoute, tags=["sources"])


@router.get("/sources", responses=responses(400, 401))
def list_sources(who: Reader, svc: ServicesDep, dataset: str | None = None) -> SourceList:
    """The project's sources by name (with ``dataset``, only that Statsig dataset's)."""
    return SourceList(
        data=[
            Source.of(s)
            for s in svc.catalog.list_sources(
                who.project_id, dataset=dataset_key(dataset) if dataset else None
            )
        ]
    )


@router.get("/sources/{name}", responses=responses(400, 401, 404))
def get_source(name: str, who: Reader, svc: ServicesDep) -> Source:
    return Source.of(svc.catalog.get_source(who.project_id, name))


@router.get("/sources/{name}/preview", responses=responses(400, 401, 404, 422))
def preview_source(
    name: str,
    who: Reader,
    svc: ServicesDep,
    day: Annotated[date, Query(description="The day to read (YYYY-MM-DD)")],
    limit: Annotated[
        int, Query(ge=1, le=MAX_PREVIEW_ROWS, description="Input records to read")
    ] = DEFAULT_PREVIEW_ROWS,
) -> SourcePreviewOut:
    """The first ``limit`` input records of the source's day, mapped, typed and validated as a
    load would: the typed rows and the rows that would be quarantined. Commits nothing (no
    rows, ledger, quarantine, run or unit), so a read key may ask. 422 PREVIEW_FAILED when the
    day cannot be read (no file, an unreadable file, a failing query)."""
    return SourcePreviewOut.of(svc.previews.preview(who.project_id, name, day, limit=limit))
