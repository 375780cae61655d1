"""The native API's router: every resource's router under ``/ingestd/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from ingestd.api.native import (
    connections,
    keys,
    projects,
    quarantine,
    readiness,
    runs,
    sources,
    status,
    tables,
    workers,
)
from ingestd.api.native.errors import render_error

PREFIX = "/ingestd/v1"

__all__ = ["PREFIX", "build_router", "render_error"]


def build_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    for module in (
        projects,
        keys,
        connections,
        tables,
        sources,
        runs,
        status,
        quarantine,
        workers,
    ):
        router.include_router(module.router)
    router.include_router(readiness.router)
    return router
