"""The Azure Data Explorer (Kusto) queued-ingestion dialect (API-SURFACE §3): the three REST
endpoints and the management commands over ``POST /v1/rest/mgmt``, with the streaming and
query routes (``streaming``, ``query_router``) included.

The router only translates: bearer tokens are the project's API keys (``deps``), bodies and
commands become ``control`` calls (``control.kusto.queued``, ``control.kusto.tables``), views
become the vendor's shapes (``wire``). Every error is rendered by ``errors.render_error`` in the
OneApiErrors body
of §3.1, and every response carries ``x-ms-activity-id`` and echoes ``x-ms-client-request-id``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ingestd.api.deps import ServicesDep
from ingestd.api.kusto import query_router, streaming, wire
from ingestd.api.kusto.deps import Caller, ClientRequestId, Ingester, ManagementDep, Reader
from ingestd.api.kusto.errors import KustoRoute, render_error
from ingestd.api.kusto.properties import parse_properties
from ingestd.api.kusto.schemas import MgmtBody, QueuedIngestBody
from ingestd.control.kusto.queued import MAX_BLOBS_REST, BlobRef

__all__ = ["render_error", "router"]

router = APIRouter(route_class=KustoRoute, tags=["kusto"])


@router.post("/v1/rest/ingestion/queued/{database}/{table}")
def queue_blobs(
    who: Ingester,
    services: ServicesDep,
    request_id: ClientRequestId,
    database: str,
    table: str,
    body: QueuedIngestBody,
) -> dict[str, str]:
    """§3.3: queue at most 20 blobs; the id is empty unless enableTracking is true."""
    properties = parse_properties(body.properties, context="rest")
    operation = services.queued_ingestion.submit(
        who.project_id,
        database,
        table,
        [BlobRef(b.url, b.sourceId, b.rawSize) for b in body.blobs],
        properties,
        max_blobs=MAX_BLOBS_REST,
        client_request_id=request_id,
    )
    return {"ingestionOperationId": operation.id if operation.tracked else ""}


@router.get("/v1/rest/ingestion/queued/{database}/{table}/{operation_id}")
def operation_status(
    who: Reader,
    services: ServicesDep,
    database: str,
    table: str,
    operation_id: str,
    details: bool = False,
) -> JSONResponse:
    """§3.4: counts per status (always all four), and per blob with ``details=true``."""
    operation = services.queued_ingestion.get(
        who.project_id, operation_id, database=database, table=table, tracked_only=True
    )
    # Plain JSON already: a JSONResponse spares FastAPI's second walk of a body that lists
    # every blob of the operation (jsonable_encoder).
    return JSONResponse(wire.status_body(operation, details=details))


@router.get("/v1/rest/ingestion/queued/{database}/{table}/")
def empty_operation_id(
    who: Reader, services: ServicesDep, database: str, table: str
) -> dict[str, Any]:
    """§3.4 [I]: the empty id of an untracked POST is an unknown operation (404)."""
    return wire.status_body(services.queued_ingestion.get(0, "", tracked_only=True), details=False)


@router.get("/v1/rest/ingestion/configuration")
def configuration(who: Ingester, services: ServicesDep) -> dict[str, Any]:
    """§3.5."""
    return wire.configuration(services.settings.blob_max_bytes, MAX_BLOBS_REST)


@router.post("/v1/rest/mgmt")
def mgmt(
    request: Request,
    who: Caller,
    services: ServicesDep,
    management: ManagementDep,
    request_id: ClientRequestId,
    body: MgmtBody,
) -> dict[str, Any]:
    """§3.2: one management command, answered as v1 tables."""
    tables = management.run(
        who,
        body.db,
        body.csl,
        request_id,
        base_url=services.settings.public_url or str(request.base_url),
    )
    return wire.v1_response(tables)


router.include_router(streaming.router)
router.include_router(query_router.router)
