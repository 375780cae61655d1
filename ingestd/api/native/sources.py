"""``/ingestd/v1/sources``: what is loaded from where into which table."""

from __future__ import annotations

from fastapi import APIRouter

from ingestd.api.native.deps import Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import Source, SourceList
from ingestd.domain.datasets import dataset_key

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
