"""``/ingestd/v1/tables``: the project's destination tables and their columns."""

from __future__ import annotations

from fastapi import APIRouter

from ingestd.api.native.deps import Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import Table, TableList

router = APIRouter(route_class=NativeRoute, tags=["tables"])


@router.get("/tables", responses=responses(400, 401))
def list_tables(who: Reader, svc: ServicesDep, namespace: str | None = None) -> TableList:
    return TableList(data=[Table.of(t) for t in svc.catalog.list_tables(who.project_id, namespace)])


@router.get("/tables/{name}", responses=responses(400, 401, 404))
def get_table(name: str, who: Reader, svc: ServicesDep) -> Table:
    """One table by its qualified name, ``namespace.name``."""
    return Table.of(svc.catalog.get_table(who.project_id, name))
