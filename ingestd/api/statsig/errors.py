"""The Statsig dialect's one error rendering (API-SURFACE §1.1).

Every refusal is ``{"status": <http code>, "message": ...}`` with the HTTP status of the
error's class (``ingestd.errors``); the Console API has no error code field. The day status
codes of ``/ingestion/status`` (§1.3) are mapped from core codes in
``ingestd.domain.error_codes.statsig_daily_error_status``.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from ingestd.control.access import KeyKind
from ingestd.errors import IngestdError, RateLimited, Unauthenticated


def masked_key(raw: str) -> str:
    """A refused key as a 401 may show it: its kind prefix (``console-``) when it has one of
    ours, then ``***``; nothing of the secret part."""
    kind, dash, _ = raw.strip().partition("-")
    known = dash and kind.lower() in {k.value for k in KeyKind}
    return f"{kind.lower()}-***" if known else "***"


def render_error(request: Request, exc: IngestdError) -> Response:
    """The one Statsig error body (§1.1): ``{"status": <http code>, "message": ...}``."""
    status = exc.http_status
    if isinstance(exc, Unauthenticated):
        # §1.1: the vendor echoes the key it refused. A revoked or mistyped real key would then
        # sit in every proxy log and client error report, so only its kind is shown.
        key = masked_key(request.headers.get("statsig-api-key", ""))
        message = (
            "This endpoint only accepts an active CONSOLE key, but an invalid key was sent. "
            f"Key: {key}"
        )
    elif status == 403:
        message = f"Forbidden resource: {exc.message}"
    elif status >= 500:
        message = "Internal server error"
    else:
        message = exc.message if exc.hint is None else f"{exc.message} ({exc.hint})"
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"status": status, "message": message}, status, headers=headers)
