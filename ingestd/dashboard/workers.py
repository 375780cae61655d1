"""``/ui/workers``: the processes that run units, and the queue they take from.

Shown to any signed-in key, like ``/ingestd/v1/workers``: names, concurrency and how many units
each runs, never which units or whose."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ingestd.dashboard.web import DashboardRoute, Session, page
from ingestd.services import Services
from ingestd.store.unit_metrics import unit_metrics

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@router.get("/ui/workers")
def workers(request: Request, session: Session) -> Response:
    svc: Services = request.app.state.services
    queue = unit_metrics(svc.store, now=svc.clock(), lease_seconds=svc.settings.lease_seconds)
    return page(
        request,
        "workers.html",
        session,
        census=svc.workers(),
        queue_depth=queue.queue_depth,
        in_flight=queue.in_flight,
        oldest_lease_age=queue.oldest_lease_age_seconds,
        lease_seconds=svc.settings.lease_seconds,
    )
