"""The Amperity protocol rules shared by every route (API-SURFACE §2.1): the error body, the
bearer and tenant checks, the API version and the per-tenant rate limit."""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from ingestd.api.amperity.schemas import ErrorBody
from ingestd.api.auth import bearer_token
from ingestd.api.rate_limit import RateLimiter
from ingestd.control.access import Permission, Principal
from ingestd.control.amperity.oauth import OAuth
from ingestd.errors import IngestdError, InvalidInput, RateLimited, Unauthenticated
from ingestd.observability import logging as log_context

API_VERSION = "2024-04-01"
TENANT_HEADERS = ("amperity-tenant", "x-amperity-tenant")
"""§5 item 21: the streaming docs spell the tenant header ``X-Amperity-Tenant``."""


def render(request: Request, exc: IngestdError, *, strict: bool = False) -> Response:
    """The one Amperity error body (§2.1): ``{"status", "message", "request_id"}``.

    ``request_id`` is documented on the vendor's responses page but absent from its OpenAPI
    ``ErrorResponse`` (§5 item 16); ``strict`` leaves it out. A 5xx never says more than that
    the server failed.
    """
    # The request's own id (ingestd.api.observability), so the body, header and log agree.
    context = log_context.current()
    request_id = context.request_id if context and context.request_id else uuid.uuid4().hex
    message = str(exc) if exc.http_status < 500 else "internal error; see the server log"
    body = ErrorBody(status=exc.http_status, message=message, request_id=request_id)
    headers = {"X-Request-Id": request_id}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    content = body.model_dump(exclude={"request_id"} if strict else set(), exclude_none=True)
    return JSONResponse(content, exc.http_status, headers=headers)


def check_version(request: Request) -> None:
    """§2.1 and §5 item 15: ``api-version`` (or ``api_version``) is required: missing → 401,
    any value but 2024-04-01 → 400."""
    version = request.headers.get("api-version") or request.query_params.get("api_version")
    if not version:
        raise Unauthenticated(
            "no API version was sent", hint=f"send the header api-version: {API_VERSION}"
        )
    if version.strip() != API_VERSION:
        raise InvalidInput(f"API version {version!r} is not supported; use {API_VERSION}")


class Gate:
    """Who is calling, for which tenant, and whether they may: run before any handler."""

    def __init__(self, oauth: OAuth, limiter: RateLimiter) -> None:
        self.oauth = oauth
        self.limiter = limiter

    def check(
        self,
        request: Request,
        permission: Permission,
        *,
        versioned: bool = True,
        limiter: RateLimiter | None = None,
    ) -> Principal:
        """Bearer (API key or access token) → the tenant must be its project (else 401) →
        rate limit per tenant (429) → API version → permission (403)."""
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise Unauthenticated(
                "no bearer token was sent",
                hint="send Authorization: Bearer <API key or access token>",
            )
        who = self.oauth.authenticate_bearer(token)
        tenant = next((request.headers[h] for h in TENANT_HEADERS if h in request.headers), None)
        if not tenant:
            raise Unauthenticated("no amperity-tenant header was sent")
        if tenant.strip() != who.project:
            raise Unauthenticated(f"the credentials do not belong to tenant {tenant!r}")
        (limiter or self.limiter).hit(f"tenant:{who.project_id}")
        if versioned:
            check_version(request)
        who.require(permission)
        return who
