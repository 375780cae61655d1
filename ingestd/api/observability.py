"""Per-request observability: request ids, the access log, HTTP metrics and ``GET /metrics``.

A pure ASGI middleware (not ``BaseHTTPMiddleware``) so streaming bodies pass untouched and the
log context it binds is the one the endpoint runs in.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingestd.api.auth import bearer_token
from ingestd.control.services import Services
from ingestd.observability import logging as log_context
from ingestd.observability.metrics import HttpMetrics, Metrics

access_log = logging.getLogger(log_context.ACCESS_LOGGER)
log = logging.getLogger("ingestd.api")

Dialect = str
"""``statsig``, ``amperity``, ``kusto``, ``native`` or ``other`` (a metric label)."""

_DIALECT_PREFIXES: tuple[tuple[tuple[str, ...], Dialect], ...] = (
    (("/console/", "/v1/mark_data_ready_dwh"), "statsig"),
    (("/api/", "/stream/"), "amperity"),
    (("/v1/rest/",), "kusto"),
    (("/ingestd/",), "native"),
)

KUSTO_REQUEST_ID = "x-ms-client-request-id"
"""API-SURFACE §3.1: Kusto clients name each request with this header; it is echoed."""
REQUEST_ID = "x-request-id"
"""Statsig, Amperity and the rest: the common ``X-Request-Id``, given or generated, echoed."""

# A client's id is kept only if it is short and plain: it goes into every log line.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._:;/+=@-]{1,128}$")
UNMATCHED = "(unmatched)"
"""The access log's and metrics' path for requests no route matched (never the raw path)."""


def dialect_of(path: str) -> Dialect:
    """The API dialect whose path space ``path`` is in."""
    for prefixes, dialect in _DIALECT_PREFIXES:
        if path.startswith(prefixes):
            return dialect
    return "other"


def request_id_header(dialect: Dialect) -> str:
    return KUSTO_REQUEST_ID if dialect == "kusto" else REQUEST_ID


class ObservabilityMiddleware:
    """Binds a ``LogContext`` per request, echoes its request id, writes one access-log line
    and counts the request in ``HttpMetrics``."""

    def __init__(
        self, app: ASGIApp, http: HttpMetrics, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        self.app = app
        self.http = http
        self.timer = timer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dialect = dialect_of(scope["path"])
        header = request_id_header(dialect)
        given = Headers(scope=scope).get(header)
        request_id = given if given and _PLAIN_ID.match(given) else uuid.uuid4().hex
        context = log_context.LogContext(request_id=request_id)
        status = 500  # unless the app starts a response, it failed

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                if header not in headers:
                    headers.append(header, request_id)
            await send(message)

        started = self.timer()
        with log_context.bound(context):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled error answering %s", scope["method"])
                raise
            finally:
                seconds = self.timer() - started
                route = getattr(scope.get("route"), "path", None) or UNMATCHED
                self.http.observe(dialect, status, seconds)
                access_log.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    route,
                    status,
                    seconds * 1000,
                    extra={
                        "method": scope["method"],
                        "path": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "dialect": dialect,
                    },
                )


def install(app: FastAPI, services: Services) -> Metrics:
    """Add the middleware and ``GET /metrics`` to ``app``."""
    metrics = Metrics.build(services.store, services.clock, services.settings.lease_seconds)
    app.add_middleware(ObservabilityMiddleware, http=metrics.http)
    token = services.settings.metrics_token

    @app.get("/metrics", tags=["ingestd"], include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        """Prometheus text format. Project names are in it: only for the operator (a token, or
        a loopback client when no token is set)."""
        refused = _refusal(request, None if token is None else token.get_secret_value())
        if refused is not None:
            return refused
        return Response(metrics.exposition(), media_type=metrics.content_type)

    return metrics


def _refusal(request: Request, token: str | None) -> Response | None:
    if token is not None:
        given = bearer_token(request.headers.get("authorization")) or ""
        if hmac.compare_digest(given.encode(), token.encode()):
            return None
        return JSONResponse(
            {
                "status": 401,
                "message": "/metrics needs Authorization: Bearer <INGESTD_METRICS_TOKEN>",
            },
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    host = request.client.host if request.client is not None else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return JSONResponse(
        {
            "status": 403,
            "message": "/metrics answers only loopback clients while INGESTD_METRICS_TOKEN is "
            "unset; set it and send Authorization: Bearer <token>",
        },
        403,
    )
