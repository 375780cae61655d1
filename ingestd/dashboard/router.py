"""The dashboard's routes (``/`` and ``/ui/...``) and its assets (``/ui/static``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ingestd.api.rate_limit import RateLimiter
from ingestd.dashboard import (
    kusto,
    not_found,
    preview,
    quarantine,
    runs,
    signin,
    sources,
    status,
    workers,
)
from ingestd.dashboard.web import HERE

STATIC = "/ui/static"


def install(app: FastAPI, *, sign_in_limiter: RateLimiter | None = None) -> None:
    """Serve the dashboard on ``app`` (which holds the services in ``app.state.services``)."""
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.include_router(signin.build_router(sign_in_limiter))
    for module in (status, runs, kusto, quarantine, sources, preview, workers):
        app.include_router(module.router)
    app.router.routes.append(not_found.NotFoundRoute())
