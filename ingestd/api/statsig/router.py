"""The Statsig Console API ingestion endpoints (API-SURFACE §1.2) and mark_data_ready_dwh.

The router only translates: headers, bodies and query strings to control calls, and views to
the vendor's envelopes. The caller is checked by the dependencies of ``deps``; every error is
rendered by ``errors.render_error`` in the vendor's body ``{"status", "message"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ingestd.api.deps import ServicesDep
from ingestd.api.errors import dialect_route
from ingestd.api.statsig import wire
from ingestd.api.statsig.deps import Configurer, Ingester, Limits, Reader
from ingestd.api.statsig.errors import render_error
from ingestd.api.statsig.schemas import (
    CONNECTION_KIND_OF_TYPE,
    Backfill,
    MarkDataReady,
    ScheduleUpdate,
    SourceCreate,
    SourceUpdate,
    connection_bodies_openapi,
    single,
)
from ingestd.control.access import Principal
from ingestd.control.catalog import ConnectionView
from ingestd.control.idempotency import Claimed, StoredResponse
from ingestd.control.runs import day_range
from ingestd.control.services import Services
from ingestd.control.statsig.datasets import BAD_REQUEST, SourceChanges
from ingestd.domain.connections import DatabricksConnection, parse_connection
from ingestd.domain.datasets import dataset_key
from ingestd.domain.origins import RunOrigin
from ingestd.errors import InvalidInput, NotFound

__all__ = ["render_error", "router"]

router = APIRouter(route_class=dialect_route(render_error), tags=["statsig"])


def _answer(stored: StoredResponse) -> Response:
    return JSONResponse(stored.body, stored.status_code)


# -- sources ----------------------------------------------------------------------------------


@router.get("/console/v1/ingestion")
def read_source(
    who: Reader, services: ServicesDep, type: str, dataset: str, source_name: str | None = None
) -> Any:
    source = services.datasets.find_one(who.project_id, type, dataset, source_name)
    return single("Ingestion read successfully.", wire.ingestion(source, type))


@router.post("/console/v1/ingestion")
def create_source(
    request: Request, who: Configurer, services: ServicesDep, body: SourceCreate
) -> Response:
    def create(_: Claimed | None) -> StoredResponse:
        source = services.datasets.create(
            who.project_id,
            connection_type=body.type,
            dataset=body.dataset,
            name=body.source_name,
            query=body.query,
            column_mapping=body.column_mapping,
            enabled=body.enabled if body.enabled is not None else True,
            api_triggered=bool(body.api_triggered),
        )
        return StoredResponse(
            200, single("Ingestion created successfully.", wire.ingestion(source, body.type))
        )

    return _answer(_once(request, services, who, create))


@router.patch("/console/v1/ingestion")
def update_source(who: Configurer, services: ServicesDep, body: SourceUpdate) -> Any:
    datasets = services.datasets
    source = datasets.find_one(who.project_id, body.type, body.dataset, body.source_name)
    changes = SourceChanges(
        query=body.query,
        column_mapping=body.column_mapping,
        enabled=body.enabled,
        api_triggered=body.api_triggered,
    )
    updated = datasets.update(who.project_id, source, changes)
    return single("Ingestion updated successfully.", wire.ingestion(updated, body.type))


@router.delete("/console/v1/ingestion")
def delete_source(
    who: Configurer, services: ServicesDep, type: str, dataset: str, source_name: str | None = None
) -> Any:
    source = services.datasets.find_one(who.project_id, type, dataset, source_name)
    deleted = services.catalog.delete_source(who.project_id, source.name)
    return single("Ingestion deleted successfully.", wire.ingestion(deleted, type))


# -- backfill and runs ------------------------------------------------------------------------


@router.post("/console/v1/ingestion/backfill")
def backfill(request: Request, who: Ingester, services: ServicesDep, body: Backfill) -> Response:
    def start(claimed: Claimed | None) -> StoredResponse:
        try:
            days = day_range(
                date.fromisoformat(body.datestamp_start), date.fromisoformat(body.datestamp_end)
            )
        except ValueError:
            raise InvalidInput(BAD_REQUEST, hint="dates are YYYY-MM-DD") from None

        def answer(run_id: str) -> StoredResponse:
            return StoredResponse(
                200, single("Ingestion backfilled successfully.", {"runID": run_id})
            )

        run = services.datasets.backfill(
            who.project_id,
            body.type,
            body.dataset,
            [body.source] if isinstance(body.source, str) else (body.source or []),
            days,
            # The run and the key's answer commit together.
            then=None if claimed is None else claimed.with_run(answer),
            origin=RunOrigin.STATSIG,
        )
        return answer(run.id)

    return _answer(_once(request, services, who, start))


@router.get("/console/v1/ingestion/runs")
def list_runs(
    request: Request, who: Reader, services: ServicesDep, page: int = 1, limit: int = 10
) -> Any:
    page, limit = wire.check_page(page, limit)
    runs, total = services.runs.list_runs(
        who.project_id, limit=limit, offset=(page - 1) * limit, kind="source", history=True
    )
    # A JSONResponse, not the dict: the wire shapes are plain JSON already, and FastAPI would
    # walk the whole body again (jsonable_encoder) before encoding it, a third of the CPU of
    # a page whose runs carry hundreds of units (docs/performance.md).
    return JSONResponse(
        {
            "message": "Ingestion Runs Listed Successfully.",
            "data": [wire.run(r) for r in runs],
            "pagination": wire.pagination(request, page, limit, total),
        }
    )


@router.get("/console/v1/ingestion/runs/{run_id}")
def read_run(who: Reader, services: ServicesDep, run_id: str) -> Any:
    run = services.datasets.source_run(who.project_id, run_id)
    return single("Ingestion Run Read Successfully", wire.run(run))


# -- status -----------------------------------------------------------------------------------


@router.get("/console/v1/ingestion/status")
def list_status(
    request: Request,
    who: Reader,
    services: ServicesDep,
    startDate: str,
    endDate: str,
    source: str | None = None,
    dataset: str | None = None,
    status: str | None = None,
    page: int = 1,
    limit: int = 10,
) -> Any:
    page, limit = wire.check_page(page, limit)
    try:
        start, end = date.fromisoformat(startDate[:10]), date.fromisoformat(endDate[:10])
    except ValueError:
        raise InvalidInput(BAD_REQUEST, hint="startDate and endDate are YYYY-MM-DD") from None
    if end < start:
        raise InvalidInput(BAD_REQUEST, hint="endDate is before startDate")
    wanted = wire.status_filter(status, request.query_params.getlist("statuses"))
    # The filter and the page are the store's (one query each, store/statsig_status.py).
    found = services.daily_status.statsig_page(
        who.project_id,
        start,
        end,
        source=source,
        dataset=dataset_key(dataset) if dataset else None,
        statuses=frozenset(wanted),
        limit=limit,
        offset=(page - 1) * limit,
    )
    return JSONResponse(  # plain JSON already: see list_runs
        {
            "message": "Ingestion statuses listed successfully.",
            "data": [wire.daily_status(row) for row in found.rows],
            "pagination": wire.pagination(request, page, limit, found.total),
        }
    )


# -- schedules and triggers -------------------------------------------------------------------


@router.get("/console/v1/ingestion/schedule")
def read_schedule(who: Reader, services: ServicesDep, dataset: str) -> Any:
    hour = services.datasets.schedule_hour(who.project_id, dataset)
    return single(
        "Ingestion schedule read successfully.",
        {"dataset": dataset, "scheduled_hour_pst": hour},
    )


@router.post("/console/v1/ingestion/schedule")
def update_schedule(who: Configurer, services: ServicesDep, body: ScheduleUpdate) -> Any:
    if not float(body.scheduled_hour_pst).is_integer():
        raise InvalidInput("scheduled_hour_pst must be a whole hour from 0 to 23")
    hour = services.datasets.set_schedule_hour(
        who.project_id, body.dataset, int(body.scheduled_hour_pst)
    )
    return single(
        "Ingestion schedule updated successfully.",
        {"dataset": body.dataset, "scheduled_hour_pst": hour},
    )


@router.post("/v1/mark_data_ready_dwh")
def mark_data_ready(
    who: Ingester, services: ServicesDep, limits: Limits, body: MarkDataReady
) -> Any:
    limits.ready_calls.hit(f"{who.project_id}:{body.type}")
    stamps = [body.datestamps] if isinstance(body.datestamps, str) else body.datestamps
    try:
        days = sorted({date.fromisoformat(s) for s in stamps})
    except ValueError:
        raise InvalidInput("datestamps must be YYYY-MM-DD dates") from None
    run = services.datasets.start(
        who.project_id,
        body.type,
        days,
        trigger="api",
        names=body.sources,
        api_triggered=True,
        origin=RunOrigin.STATSIG,
    )
    return {"success": True, "runID": run.id}


# -- connections ------------------------------------------------------------------------------


@router.post("/console/v1/ingestion/connection/databricks")
def databricks(who: Configurer, services: ServicesDep, body: DatabricksConnection) -> Any:
    view = services.catalog.create_connection(who.project_id, "databricks", body, replace=True)
    return single("Ingestion connection created successfully.", wire.connection(view))


@router.post(
    "/console/v1/ingestion/connection/{connection_type}",
    openapi_extra=connection_bodies_openapi(),
)
def create_connection(
    who: Configurer, services: ServicesDep, connection_type: str, body: dict[str, Any]
) -> Any:
    """ingestd extension: the same path shape for every type ingestd can read; the body is
    the typed body of the path's type (unknown fields are refused, each one named)."""
    kind = CONNECTION_KIND_OF_TYPE.get(connection_type)
    if kind is None:
        raise NotFound(f"Ingestion of type {connection_type} not found.")
    typed = parse_connection(kind, body)
    view = services.catalog.create_connection(who.project_id, connection_type, typed, replace=True)
    return single("Ingestion connection created successfully.", wire.connection(view))


@router.get("/console/v1/ingestion/connection/{connection_type}")
def read_connection(who: Reader, services: ServicesDep, connection_type: str) -> Any:
    view = _connection_or_404(services, who, connection_type)
    return single("Ingestion connection read successfully.", wire.connection(view))


@router.delete("/console/v1/ingestion/connection/{connection_type}")
def delete_connection(who: Configurer, services: ServicesDep, connection_type: str) -> Any:
    view = _connection_or_404(services, who, connection_type)
    services.catalog.delete_connection(who.project_id, connection_type)
    return single("Ingestion connection deleted successfully.", wire.connection(view))


# -- event counts -----------------------------------------------------------------------------


@router.get("/console/v1/ingestion/events/count")
def event_count(
    who: Reader,
    services: ServicesDep,
    start_date: str,
    end_date: str,
    source_name: str | None = None,
    event_name: str | None = None,
) -> Any:
    start, end = wire.parse_range(start_date, end_date)
    counts = services.datasets.event_counts(
        services.warehouse, who.project_id, start, end, source=source_name, event=event_name
    )
    return single(
        "Ingestion event count read successfully.",
        wire.event_counts(counts, event_name, start, end),
    )


@router.get("/console/v1/ingestion/events/delta")
def event_delta(
    who: Reader,
    services: ServicesDep,
    start_date: str,
    end_date: str,
    source_name: str | None = None,
    event_name: str | None = None,
) -> Any:
    start, end = wire.parse_range(start_date, end_date)
    deltas = services.data_checks.deltas(
        who.project_id, start, end, source=source_name, event=event_name
    )
    return single(
        "Ingestion event delta read successfully.",
        wire.event_deltas(deltas, event_name, start, end),
    )


# -- translation helpers ----------------------------------------------------------------------


def _once(
    request: Request,
    services: Services,
    who: Principal,
    produce: Callable[[Claimed | None], StoredResponse],
) -> StoredResponse:
    """§1.1 Idempotency-Key: the first answer is stored; a repeat gets it and changes nothing."""
    return services.idempotency.once(
        who.project_id,
        request.headers.get("idempotency-key"),
        request.method,
        request.url.path,
        produce,
    )


def _connection_or_404(services: Services, who: Principal, connection_type: str) -> ConnectionView:
    try:
        return services.catalog.get_connection(who.project_id, connection_type)
    except NotFound:
        raise NotFound(f"Ingestion of type {connection_type} not found.") from None
