"""The native API's one error envelope, and the route class that renders every error in it.

Every refusal is ``{"error": {"code", "message", "hint", "field"}}`` with the HTTP status of
the error class (``ingestd.errors``): ``code`` is the stable string clients key on, ``hint``
says what to do (or null), ``field`` names the request field at fault (or null). A 500 says
only that something failed on the server; the traceback goes to the log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ingestd.api.errors import NATIVE_HIDDEN_PARTS, dialect_route, validation_message
from ingestd.api.native.schemas import ErrorBody, ErrorDetail
from ingestd.errors import IngestdError, InvalidInput

log = logging.getLogger("ingestd.api")


def render_error(request: Request, exc: IngestdError, *, field: str | None = None) -> Response:
    """The native envelope for ``exc`` (and Retry-After / WWW-Authenticate where they apply)."""
    status = exc.http_status
    message = exc.message if status < 500 else "internal error; see the server log"
    body = ErrorBody(error=ErrorDetail(code=exc.code, message=message, hint=exc.hint, field=field))
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ingestd"'
    return JSONResponse(body.model_dump(mode="json"), status, headers=headers)


def _first_field(exc: RequestValidationError) -> str | None:
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        # A repeated query parameter's position is noise (``state``, not ``state.0``); in a
        # body it says which element (``columns.2.type``).
        keep = [p for p in loc[1:] if not (loc[0] == "query" and isinstance(p, int))]
        if keep:
            return ".".join(str(p) for p in keep)
    return None


def _render_invalid(request: Request, exc: RequestValidationError) -> Response:
    return render_error(
        request,
        InvalidInput(
            validation_message(exc, NATIVE_HIDDEN_PARTS),
            hint="see /openapi.json for the request schema",
        ),
        field=_first_field(exc),
    )


NativeRoute = dialect_route(render_error, render_invalid=_render_invalid)
"""Renders every error raised while handling a native request in the one envelope."""


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses an operation really gives (every one that
    takes a key can also be rate limited: 429)."""
    if 401 in statuses and 429 not in statuses:
        statuses = (*statuses, 429)
    described = {
        400: "The request is invalid (a field, a query parameter, a cursor)",
        401: "No key, or a key that is unknown or revoked",
        403: "The key's kind may not do this",
        404: "Nothing of that name in the key's project",
        405: "The path exists, not with this method (see the Allow header)",
        409: "The request contradicts the current state",
        422: "The request is valid but cannot be carried out (PREVIEW_FAILED: the source "
        "cannot be read for the day)",
        429: "Too many requests (see Retry-After)",
        503: "Not ready",
    }
    return {s: {"model": ErrorBody, "description": described[s]} for s in statuses}
