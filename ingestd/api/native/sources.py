"""``/ingestd/v1/sources``: what is loaded from where into which table."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from ingestd.api.native.deps import Configurer, Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import (
    Source,
    SourceDraftPreview,
    SourceList,
    SourcePreviewOut,
)
from ingestd.domain.datasets import dataset_key
from ingestd.domain.mapping import mapping_from_kusto
from ingestd.domain.previews import DEFAULT_PREVIEW_ROWS, MAX_PREVIEW_ROWS
from ingestd.domain.sources import DataFormat, ErrorPolicy, LoadMode, ReadOptions
from ingestd.errors import InvalidInput, MappingInvalid

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


@router.post("/sources/preview", responses=responses(400, 401, 403, 404, 422))
def preview_draft(body: SourceDraftPreview, who: Configurer, svc: ServicesDep) -> SourcePreviewOut:
    """Preview a source definition before saving it: checked as creating it would be, then
    read like ``GET /sources/{name}/preview``. Needs a console key (it may run any query on
    the project's connections); commits nothing and saves nothing."""
    options = ReadOptions.from_dict(body.read_options)
    mapping = None
    if body.mapping is not None:
        kind = "json" if options.format in (DataFormat.JSON, DataFormat.MULTIJSON) else "csv"
        try:
            mapping = mapping_from_kusto(kind, body.mapping)
        except MappingInvalid as exc:  # the request's mapping: a bad request, not a unit's
            raise InvalidInput(f"mapping: {exc.message}", hint=exc.hint) from exc
    draft = svc.catalog.source_draft(
        who.project_id,
        table=body.table,
        connection=body.connection,
        path_template=body.path_template,
        query=body.query,
        read_options=options,
        mapping=mapping,
        load_mode=LoadMode(body.load_mode),
        error_policy=ErrorPolicy.from_dict(body.error_policy),
    )
    preview = svc.previews.preview_draft(who.project_id, draft, body.day, limit=body.limit)
    return SourcePreviewOut.of(preview)


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
