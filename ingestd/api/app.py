"""The ASGI app factory: the routers, and in its lifespan the worker pool and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

import ingestd
from ingestd.api.amperity import router as amperity
from ingestd.api.amperity.protocol import render as amperity_render
from ingestd.api.docs import mount_docs
from ingestd.api.kusto import router as kusto
from ingestd.api.kusto.storage import router as kusto_storage
from ingestd.api.native import router as native
from ingestd.api.observability import install as install_observability
from ingestd.api.statsig import router as statsig
from ingestd.dashboard import router as dashboard
from ingestd.errors import IngestdError, InvalidInput, MethodNotAllowed, NotFound
from ingestd.services import Services

log = logging.getLogger("ingestd.api")


def create_app(services: Services, *, background: bool = True) -> FastAPI:
    """Build the app. With ``background``, its lifespan runs the worker pool and scheduler."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not background:
            yield
            return
        # INGESTD_EXECUTOR=local: this process's pool runs the units. celery: workers do, and
        # the leading serve's background dispatches them (docs/deployment.md).
        pool = services.pool() if services.settings.executor == "local" else None
        if pool is not None:
            pool.start()
        periodic = services.background(pool.wake if pool is not None else _nothing)
        periodic.start()
        # Units queued by other processes (API processes, other machines) wake the pool and
        # the dispatcher here at once, not at their next poll.
        notices = services.work_notices()
        if notices is not None:
            notices.start()
        try:
            yield
        finally:
            if notices is not None:
                notices.stop()
            periodic.stop()
            if pool is not None:
                pool.stop()

    app = FastAPI(
        title="ingestd",
        version=ingestd.__version__,
        lifespan=lifespan,
        docs_url=None,  # served offline by mount_docs; no ReDoc (see api/docs.py)
        redoc_url=None,
    )
    mount_docs(app)
    app.state.services = services
    app.include_router(statsig.router)
    app.include_router(amperity.router)
    app.include_router(kusto.router)
    app.include_router(kusto_storage.build_router(services))
    app.include_router(native.build_router())
    dashboard.install(app)
    _answer_unknown_paths_in_dialect(app, services)
    app.state.metrics = install_observability(app, services)

    @app.get("/healthz", tags=["ingestd"])
    def healthz() -> JSONResponse:
        """Liveness and the metadata store's reachability."""
        services.readiness.metadata_answers()
        return JSONResponse({"status": "ok", "version": ingestd.__version__})

    return app


def _answer_unknown_paths_in_dialect(app: FastAPI, services: Services) -> None:
    """A path or method no route serves is answered in the envelope of the dialect whose path
    space it is in (not FastAPI's ``{"detail": ...}``), so clients parse every error alike."""
    strict = services.settings.amperity_strict_errors
    renderers: list[tuple[tuple[str, ...], Callable[[Request, IngestdError], Response]]] = [
        (("/console/", "/v1/mark_data_ready_dwh"), statsig.render_error),
        (("/api/", "/stream/"), partial(amperity_render, strict=strict)),
        (("/v1/rest/", "/v2/rest/"), kusto.render_error),
        ((native.PREFIX + "/",), native.render_error),
    ]

    @app.exception_handler(StarletteHTTPException)
    async def unknown_path(request: Request, exc: StarletteHTTPException) -> Response:
        error: IngestdError = (
            NotFound(f"{request.method} {request.url.path} is not an endpoint")
            if exc.status_code == 404
            else MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            if exc.status_code == 405
            else InvalidInput(str(exc.detail))
        )
        response = next(
            (
                render(request, error)
                for prefixes, render in renderers
                if request.url.path.startswith(prefixes)
            ),
            None,
        ) or JSONResponse({"status": exc.status_code, "message": error.message}, exc.status_code)
        if exc.status_code == 405:
            # RFC 9110 §15.5.6: a 405 lists the methods the path has. Starlette names only the
            # first route that matched the path; a path served by several routes has them all.
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves the request's path with (asked of the routes
    themselves, so included routers at any depth answer too)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    ]


def _nothing() -> None:
    """Nothing to wake: with INGESTD_EXECUTOR=celery no pool runs in this process."""
