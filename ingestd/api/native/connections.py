"""``/ingestd/v1/connections``: where sources read from. Secrets go in, never out."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ingestd.api.native.deps import Configurer, Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import Connection, ConnectionCreate, ConnectionList
from ingestd.domain.connections import connection_body

router = APIRouter(route_class=NativeRoute, tags=["connections"])


@router.get("/connections", responses=responses(400, 401))
def list_connections(who: Reader, svc: ServicesDep) -> ConnectionList:
    return ConnectionList(
        data=[Connection.of(c) for c in svc.catalog.list_connections(who.project_id)]
    )


@router.get("/connections/{name}", responses=responses(400, 401, 404))
def get_connection(name: str, who: Reader, svc: ServicesDep) -> Connection:
    return Connection.of(svc.catalog.get_connection(who.project_id, name))


@router.post("/connections", status_code=201, responses=responses(400, 401, 403, 409))
def create_connection(body: ConnectionCreate, who: Configurer, svc: ServicesDep) -> Connection:
    """A connection of the caller's project, checked against its kind's typed body (a 400
    names the wrong field); the kind's model, not the caller, decides which fields are secret,
    and secrets are stored encrypted, never returned."""
    typed = connection_body(body.kind, dict(body.config), dict(body.secrets))
    view = svc.catalog.create_connection(who.project_id, body.name, typed)
    return Connection.of(view)


@router.delete("/connections/{name}", status_code=204, responses=responses(400, 401, 403, 404, 409))
def delete_connection(name: str, who: Configurer, svc: ServicesDep) -> Response:
    """Delete a connection no source uses (409 names the source that still does)."""
    svc.catalog.delete_connection(who.project_id, name)
    return Response(status_code=204)
