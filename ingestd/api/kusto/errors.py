"""The Kusto dialect's one error rendering (API-SURFACE §3.1 OneApiErrors) and its route class.

The body's ``code`` is the Kusto code of the error's core code, decided in one place
(``ingestd.domain.error_codes.kusto_request_code``); ``@type`` follows from that code and the
HTTP status. Every response of the dialect carries ``x-ms-activity-id`` and echoes
``x-ms-client-request-id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from ingestd.api.errors import dialect_route
from ingestd.control.kusto.streaming import StreamingDataInvalid, StreamingIngestFailed
from ingestd.domain.error_codes import kusto_request_code
from ingestd.errors import IngestdError, RateLimited, Unauthenticated

CLIENT_REQUEST_ID = "x-ms-client-request-id"
ACTIVITY_ID = "x-ms-activity-id"

_TYPE_BY_KUSTO_CODE = {
    "BadRequest_SyntaxError": "Kusto.Data.Exceptions.SyntaxException",
    "BadRequest_SemanticError": "Kusto.Data.Exceptions.SemanticException",
    "BadRequest_StreamingIngestionRequestTooLarge": (
        "Kusto.DataNode.Exceptions.KustoRequestPayloadTooLargeException"
    ),
}
_TYPE_BY_STATUS = {
    404: "Kusto.Data.Exceptions.EntityNotFoundException",
    403: "Kusto.Data.Exceptions.ForbiddenException",
    429: "Kusto.Data.Exceptions.ThrottleException",
}


def activity_id(request: Request) -> str:
    """The request's activity id: made once, the same in the body and the header."""
    value = getattr(request.state, "kusto_activity_id", None)
    if not isinstance(value, str):
        value = str(uuid.uuid4())
        request.state.kusto_activity_id = value
    return value


def kusto_code(exc: IngestdError) -> str:
    """The OneApiErrors ``code`` of ``exc`` (a streaming failure answers with its unit's)."""
    cause = (
        exc.cause_code if isinstance(exc, StreamingIngestFailed | StreamingDataInvalid) else None
    )
    return kusto_request_code(exc.code, exc.http_status, cause=cause)


def exception_type(code: str, status: int) -> str:
    """The ``@type`` of an error with Kusto ``code`` answered with HTTP ``status``."""
    declared = _TYPE_BY_KUSTO_CODE.get(code)
    if declared is not None:
        return declared
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    if status >= 500:
        return "Kusto.Data.Exceptions.KustoServiceException"
    return "Kusto.Data.Exceptions.KustoBadRequestException"


def render_error(request: Request, exc: IngestdError) -> Response:
    """The one Kusto error body (§3.1 OneApiErrors), with the §3.1 headers, so that it is
    complete wherever it is called from (the app renders unknown /v1/rest paths with it too).
    401 is empty with ``WWW-Authenticate`` (§3.1 [I]). 409 conflicts are 400s: §3.1 lists no
    409. A 5xx says nothing more than that the server failed."""
    if isinstance(exc, Unauthenticated):
        return stamp(request, Response(status_code=401, headers={"WWW-Authenticate": "Bearer"}))
    status = 400 if exc.http_status == 409 else exc.http_status
    public = status < 500 or getattr(exc, "public_message", False) is True
    message = exc.message if public else "internal error; see the server log"
    full = str(exc) if public else message
    # The managed streaming client falls back to queued ingestion on what is not permanent.
    declared = getattr(exc, "permanent", None)
    permanent = declared if isinstance(declared, bool) else status < 500 and status != 429
    code = kusto_code(exc)
    body = {
        "error": {
            "code": code,
            "message": message,
            "@type": exception_type(code, status),
            "@message": full,
            "@context": {
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
                "clientRequestId": request.headers.get(CLIENT_REQUEST_ID, ""),
                "activityId": activity_id(request),
            },
            "@permanent": permanent,
            "innererror": {"code": exc.code, "message": full},
        }
    }
    response = JSONResponse(body, status)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return stamp(request, response)


def stamp(request: Request, response: Response) -> Response:
    """§3.1: ``x-ms-activity-id`` on every response; ``x-ms-client-request-id`` echoed."""
    response.headers[ACTIVITY_ID] = activity_id(request)
    client_request_id = request.headers.get(CLIENT_REQUEST_ID)
    if client_request_id is not None:
        response.headers[CLIENT_REQUEST_ID] = client_request_id
    return response


class KustoRoute(dialect_route(render_error)):  # type: ignore[misc]
    """Errors rendered by ``render_error``; §3.1 headers on every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def stamped(request: Request) -> Response:
            response: Response = await handler(request)
            return stamp(request, response)

        return stamped
