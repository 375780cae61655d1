"""The ASGI app factory: routers, the worker pool and the scheduler share one process."""

from __future__ import annotations

import logging
import threading
import time
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
from ingestd.control.scheduler import pst_today
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
        pool = services.pool()
        pool.start()
        stop = threading.Event()
        scheduler = threading.Thread(
            target=_schedule, args=(services, pool.wake, stop), name="scheduler", daemon=True
        )
        scheduler.start()
        try:
            yield
        finally:
            stop.set()
            pool.stop()
            scheduler.join(5)

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


def _schedule(services: Services, wake: Callable[[], None], stop: threading.Event) -> None:
    """Every interval: due scheduled runs and stream flushes (by size or age), the Kusto SDK
    notifications of ended blobs and the upload retention; less often, the data checks and the
    reloads they decide."""
    last_check = time.monotonic()
    while not stop.is_set():
        try:
            due = services.scheduler.tick()
            flushed = services.streams.flush_due()
            services.kusto_queues.publish()
            services.kusto_queues.sweep()
            if due or flushed:
                wake()
            if time.monotonic() - last_check >= services.settings.data_check_interval_seconds:
                last_check = time.monotonic()
                today = pst_today(services.clock())
                for project_id in services.access.project_ids():
                    if services.data_checks.reload_changed(project_id, today):
                        wake()
        except Exception:  # the scheduler loop must survive a bad tick
            log.exception("scheduler tick failed")
        stop.wait(services.settings.scheduler_interval_seconds)
