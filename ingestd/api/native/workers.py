"""``/ingestd/v1/workers``: the processes that run units now (docs/deployment.md).

Any key may look: it sees worker names, their concurrency and how many units each runs, never
which units or whose (a tenant learns how busy the service is, as from its own queue times,
and nothing of other projects)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ingestd.api.native.deps import Reader
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import WorkersOut
from ingestd.services import Services

router = APIRouter(route_class=NativeRoute, tags=["workers"])


def _root(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@router.get("/workers", responses=responses(400, 401))
def workers(who: Reader, svc: Annotated[Services, Depends(_root)]) -> WorkersOut:
    """Celery workers that answered the broker, and every process holding unit leases."""
    del who  # authenticated (any key); the answer names no project's units
    return WorkersOut.of(svc.workers())
