"""The Azure Data Explorer (Kusto) queued-ingestion dialect (API-SURFACE §3): the three REST
endpoints and the management commands over ``POST /v1/rest/mgmt``.

The router only translates: bearer tokens are the project's API keys, bodies and commands
become ``control`` calls (``kusto_ops``, ``kusto_tables``), views become the vendor's shapes
(``wire``). Every error is rendered by ``render_error`` in the OneApiErrors body of §3.1, and
every response carries ``x-ms-activity-id`` and echoes ``x-ms-client-request-id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ingestd.api.auth import bearer_token
from ingestd.api.errors import dialect_route
from ingestd.api.kusto import wire
from ingestd.api.kusto.mgmt import Management
from ingestd.api.kusto.properties import parse_properties
from ingestd.api.kusto.query_router import add_query_routes
from ingestd.api.kusto.schemas import MgmtBody, QueuedIngestBody
from ingestd.api.kusto.streaming import add_streaming_routes
from ingestd.control.access import Permission, Principal
from ingestd.control.kusto_errors import KustoSyntaxError
from ingestd.control.kusto_ops import MAX_BLOBS_REST, BlobRef
from ingestd.control.mappings import Mappings
from ingestd.errors import Forbidden, IngestdError, NotFound, RateLimited, Unauthenticated
from ingestd.services import Services

CLIENT_REQUEST_ID = "x-ms-client-request-id"
ACTIVITY_ID = "x-ms-activity-id"


def _activity_id(request: Request) -> str:
    value = getattr(request.state, "kusto_activity_id", None)
    if not isinstance(value, str):
        value = str(uuid.uuid4())
        request.state.kusto_activity_id = value
    return value


def _kusto_code(exc: IngestdError, status: int) -> str:
    code = getattr(exc, "kusto_code", None)
    if isinstance(code, str):
        return code
    if isinstance(exc, Forbidden):
        return "Forbidden"
    if isinstance(exc, RateLimited):
        return "General_ThrottledIngestion"
    if isinstance(exc, NotFound):
        return "BadRequest_EntityNotFound"
    return "General_InternalServerError" if status >= 500 else "General_BadRequest"


def _exception_type(exc: IngestdError, status: int) -> str:
    declared = getattr(exc, "kusto_type", None)
    if isinstance(declared, str):
        return declared
    if isinstance(exc, KustoSyntaxError) or getattr(exc, "kusto_code", "") == (
        "BadRequest_SyntaxError"
    ):
        return "Kusto.Data.Exceptions.SyntaxException"
    if getattr(exc, "kusto_code", "") == "BadRequest_SemanticError":
        return "Kusto.Data.Exceptions.SemanticException"
    if status == 404:
        return "Kusto.Data.Exceptions.EntityNotFoundException"
    if status == 403:
        return "Kusto.Data.Exceptions.ForbiddenException"
    if status == 429:
        return "Kusto.Data.Exceptions.ThrottleException"
    if status >= 500:
        return "Kusto.Data.Exceptions.KustoServiceException"
    return "Kusto.Data.Exceptions.KustoBadRequestException"


def render_error(request: Request, exc: IngestdError) -> Response:
    """The one Kusto error body (§3.1 OneApiErrors), with the §3.1 headers, so that it is
    complete wherever it is called from (the app renders unknown /v1/rest paths with it too).
    401 is empty with ``WWW-Authenticate`` (§3.1 [I]). 409 conflicts are 400s: §3.1 lists no
    409. A 5xx says nothing more than that the server failed."""
    if isinstance(exc, Unauthenticated):
        return _stamp(request, Response(status_code=401, headers={"WWW-Authenticate": "Bearer"}))
    status = 400 if exc.http_status == 409 else exc.http_status
    public = status < 500 or getattr(exc, "public_message", False) is True
    message = exc.message if public else "internal error; see the server log"
    full = str(exc) if public else message
    # The managed streaming client falls back to queued ingestion on what is not permanent.
    declared = getattr(exc, "permanent", None)
    permanent = declared if isinstance(declared, bool) else status < 500 and status != 429
    body = {
        "error": {
            "code": _kusto_code(exc, status),
            "message": message,
            "@type": _exception_type(exc, status),
            "@message": full,
            "@context": {
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
                "clientRequestId": request.headers.get(CLIENT_REQUEST_ID, ""),
                "activityId": _activity_id(request),
            },
            "@permanent": permanent,
            "innererror": {"code": exc.code, "message": full},
        }
    }
    response = JSONResponse(body, status)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return _stamp(request, response)


def _stamp(request: Request, response: Response) -> Response:
    """§3.1: ``x-ms-activity-id`` on every response; ``x-ms-client-request-id`` echoed."""
    response.headers[ACTIVITY_ID] = _activity_id(request)
    client_request_id = request.headers.get(CLIENT_REQUEST_ID)
    if client_request_id is not None:
        response.headers[CLIENT_REQUEST_ID] = client_request_id
    return response


def _route_class() -> type[APIRoute]:
    base = dialect_route(render_error)

    class KustoRoute(base):  # type: ignore[misc,valid-type]
        """Errors rendered by ``render_error``; §3.1 headers on every response."""

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def stamped(request: Request) -> Response:
                response: Response = await handler(request)
                return _stamp(request, response)

            return stamped

    return KustoRoute


def build_router(services: Services) -> APIRouter:
    settings = services.settings
    mappings = Mappings(services.store)
    queued = services.queued_ingestion
    management = Management(services.catalog, mappings, queued, services.kusto_signer)
    router = APIRouter(route_class=_route_class(), tags=["kusto"])

    def principal(request: Request, permission: Permission) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        who = services.access.authenticate(token)
        who.require(permission)
        return who

    def client_request_id(request: Request) -> str:
        return request.headers.get(CLIENT_REQUEST_ID) or f"ingestd;{uuid.uuid4()}"

    @router.post("/v1/rest/ingestion/queued/{database}/{table}")
    def queue_blobs(
        request: Request, database: str, table: str, body: QueuedIngestBody
    ) -> dict[str, str]:
        """§3.3: queue at most 20 blobs; the id is empty unless enableTracking is true."""
        who = principal(request, Permission.INGEST)
        properties = parse_properties(body.properties, context="rest")
        operation = queued.submit(
            who.project_id,
            database,
            table,
            [BlobRef(b.url, b.sourceId, b.rawSize) for b in body.blobs],
            properties,
            max_blobs=MAX_BLOBS_REST,
            client_request_id=client_request_id(request),
        )
        return {"ingestionOperationId": operation.id if operation.tracked else ""}

    @router.get("/v1/rest/ingestion/queued/{database}/{table}/{operation_id}")
    def operation_status(
        request: Request, database: str, table: str, operation_id: str, details: bool = False
    ) -> dict[str, Any]:
        """§3.4: counts per status (always all four), and per blob with ``details=true``."""
        who = principal(request, Permission.READ)
        operation = queued.get(
            who.project_id, operation_id, database=database, table=table, tracked_only=True
        )
        return wire.status_body(operation, details=details)

    @router.get("/v1/rest/ingestion/queued/{database}/{table}/")
    def empty_operation_id(request: Request, database: str, table: str) -> dict[str, Any]:
        """§3.4 [I]: the empty id of an untracked POST is an unknown operation (404)."""
        principal(request, Permission.READ)
        return wire.status_body(queued.get(0, "", tracked_only=True), details=False)

    @router.get("/v1/rest/ingestion/configuration")
    def configuration(request: Request) -> dict[str, Any]:
        """§3.5."""
        principal(request, Permission.INGEST)
        return wire.configuration(settings.blob_max_bytes, MAX_BLOBS_REST)

    @router.post("/v1/rest/mgmt")
    def mgmt(request: Request, body: MgmtBody) -> dict[str, Any]:
        """§3.2: one management command, answered as v1 tables."""
        who = services.access.authenticate(bearer_token(request.headers.get("authorization")))
        tables = management.run(
            who,
            body.db,
            body.csl,
            client_request_id(request),
            base_url=settings.public_url or str(request.base_url),
        )
        return wire.v1_response(tables)

    add_streaming_routes(router, services, principal, client_request_id)
    add_query_routes(router, services, principal, client_request_id, _activity_id)
    return router
