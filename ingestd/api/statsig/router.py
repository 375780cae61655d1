"""The Statsig Console API ingestion endpoints (API-SURFACE §1.2) and mark_data_ready_dwh.

The router only translates: headers, bodies and query strings to control calls, and views to
the vendor's envelopes. Every error is rendered by ``render_error`` in the vendor's body
``{"status", "message"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ingestd.api.errors import dialect_route
from ingestd.api.rate_limit import RateLimiter
from ingestd.api.statsig import wire
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
from ingestd.control.access import KeyKind, Permission, Principal
from ingestd.control.catalog import ConnectionView
from ingestd.control.datasets import DatasetSources, SourceChanges
from ingestd.control.idempotency import Claimed, StoredResponse
from ingestd.control.runs import day_range
from ingestd.control.services import Services
from ingestd.domain.connections import DatabricksConnection, parse_connection
from ingestd.domain.datasets import dataset_key
from ingestd.domain.origins import RunOrigin
from ingestd.errors import IngestdError, InvalidInput, NotFound, Unauthenticated

API_VERSION = "20240601"
BAD_REQUEST = "Invalid request. Please check the request input and try again."


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
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse({"status": status, "message": message}, status, headers=headers)


def build_router(services: Services) -> APIRouter:
    settings = services.settings
    datasets = DatasetSources(services.store, services.catalog, services.runs)
    idempotency = services.idempotency
    mutations = RateLimiter(
        [(settings.statsig_mutations_per_10s, 10.0), (settings.statsig_mutations_per_15m, 900.0)]
    )
    ready_calls = RateLimiter([(1, 7200.0)])  # §1.4 T: once per 2 h
    router = APIRouter(route_class=dialect_route(render_error), tags=["statsig"])

    def principal(request: Request, permission: Permission) -> Principal:
        version = request.headers.get("statsig-api-version")
        if version is not None and version != API_VERSION:
            raise InvalidInput(
                f"STATSIG-API-VERSION {version!r} is not supported; use {API_VERSION}"
            )
        who = services.access.authenticate(request.headers.get("statsig-api-key"))
        who.require(permission)
        if request.method != "GET":
            mutations.hit(f"project:{who.project_id}")
        return who

    def replay_or(
        request: Request, who: Principal, produce: Callable[[Claimed | None], dict[str, Any]]
    ) -> Response:
        """Idempotency-Key: the first answer is stored; a repeat gets it and changes nothing.
        ``produce`` gets the claimed key to store its answer in its own transaction (a run's);
        if it does not, the answer is stored after it."""
        key = request.headers.get("idempotency-key")
        if not key:
            return JSONResponse(produce(None))
        # Claim first (unique constraint): one request runs, the others get its answer.
        claim = idempotency.claim(who.project_id, key, request.method, request.url.path)
        if claim.answer is not None:
            return JSONResponse(claim.answer.body, claim.answer.status_code)
        claimed = Claimed(idempotency, who.project_id, key)
        try:
            body = produce(claimed)
            if not claimed.completed:
                idempotency.complete(who.project_id, key, StoredResponse(200, body))
        except BaseException:
            idempotency.release(who.project_id, key)  # a retry with the key may run
            raise
        return JSONResponse(body)

    # -- sources ------------------------------------------------------------------------------

    @router.get("/console/v1/ingestion")
    def read_source(
        request: Request, type: str, dataset: str, source_name: str | None = None
    ) -> Any:
        who = principal(request, Permission.READ)
        source = datasets.find_one(who.project_id, type, dataset, source_name)
        return single("Ingestion read successfully.", wire.ingestion(source, type))

    @router.post("/console/v1/ingestion")
    def create_source(request: Request, body: SourceCreate) -> Response:
        who = principal(request, Permission.CONFIGURE)

        def create(_: Claimed | None) -> dict[str, Any]:
            source = datasets.create(
                who.project_id,
                connection_type=body.type,
                dataset=body.dataset,
                name=body.source_name,
                query=body.query,
                column_mapping=body.column_mapping,
                enabled=body.enabled if body.enabled is not None else True,
                api_triggered=bool(body.api_triggered),
            )
            return single("Ingestion created successfully.", wire.ingestion(source, body.type))

        return replay_or(request, who, create)

    @router.patch("/console/v1/ingestion")
    def update_source(request: Request, body: SourceUpdate) -> Any:
        who = principal(request, Permission.CONFIGURE)
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
        request: Request, type: str, dataset: str, source_name: str | None = None
    ) -> Any:
        who = principal(request, Permission.CONFIGURE)
        source = datasets.find_one(who.project_id, type, dataset, source_name)
        deleted = services.catalog.delete_source(who.project_id, source.name)
        return single("Ingestion deleted successfully.", wire.ingestion(deleted, type))

    # -- backfill and runs --------------------------------------------------------------------

    @router.post("/console/v1/ingestion/backfill")
    def backfill(request: Request, body: Backfill) -> Response:
        who = principal(request, Permission.INGEST)

        def start(claimed: Claimed | None) -> dict[str, Any]:
            try:
                days = day_range(
                    date.fromisoformat(body.datestamp_start), date.fromisoformat(body.datestamp_end)
                )
            except ValueError:
                raise InvalidInput(BAD_REQUEST, hint="dates are YYYY-MM-DD") from None
            names = [body.source] if isinstance(body.source, str) else body.source
            sources = datasets.find(who.project_id, body.type, body.dataset)
            if not sources:
                raise NotFound(f"Ingestion of type {body.type} not found.")
            known = {s.name for s in sources}
            if names and any(n not in known for n in names):
                raise InvalidInput(BAD_REQUEST, hint=f"unknown source in {names}")

            def answer(run_id: str) -> StoredResponse:
                body = single("Ingestion backfilled successfully.", {"runID": run_id})
                return StoredResponse(200, body)

            run = services.runs.start_source_run(
                who.project_id,
                names or sorted(s.name for s in sources if s.enabled),
                days,
                trigger="backfill",
                # The run and the key's answer commit together.
                then=None if claimed is None else claimed.with_run(answer),
                origin=RunOrigin.STATSIG,
            )
            return answer(run.id).body

        response = replay_or(request, who, start)
        return response

    @router.get("/console/v1/ingestion/runs")
    def list_runs(request: Request, page: int = 1, limit: int = 10) -> Any:
        who = principal(request, Permission.READ)
        page, limit = wire.check_page(page, limit)
        runs, total = services.runs.list_runs(
            who.project_id, limit=limit, offset=(page - 1) * limit, kind="source", history=True
        )
        return {
            "message": "Ingestion Runs Listed Successfully.",
            "data": [wire.run(r) for r in runs],
            "pagination": wire.pagination(request, page, limit, total),
        }

    @router.get("/console/v1/ingestion/runs/{run_id}")
    def read_run(request: Request, run_id: str) -> Any:
        who = principal(request, Permission.READ)
        try:
            run = services.runs.get_run(who.project_id, run_id)
        except NotFound:
            raise NotFound(f"runID {run_id} not found") from None
        if run.kind != "source":
            raise NotFound(f"runID {run_id} not found")
        return single("Ingestion Run Read Successfully", wire.run(run))

    # -- status -------------------------------------------------------------------------------

    @router.get("/console/v1/ingestion/status")
    def list_status(
        request: Request,
        startDate: str,
        endDate: str,
        source: str | None = None,
        dataset: str | None = None,
        status: str | None = None,
        page: int = 1,
        limit: int = 10,
    ) -> Any:
        who = principal(request, Permission.READ)
        page, limit = wire.check_page(page, limit)
        try:
            start, end = date.fromisoformat(startDate[:10]), date.fromisoformat(endDate[:10])
        except ValueError:
            raise InvalidInput(BAD_REQUEST, hint="startDate and endDate are YYYY-MM-DD") from None
        if end < start:
            raise InvalidInput(BAD_REQUEST, hint="endDate is before startDate")
        wanted = wire.status_filter(status, request.query_params.getlist("statuses"))
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
        return {
            "message": "Ingestion statuses listed successfully.",
            "data": [wire.daily_status(row) for row in found.rows],
            "pagination": wire.pagination(request, page, limit, found.total),
        }

    # -- schedules and triggers ---------------------------------------------------------------

    @router.get("/console/v1/ingestion/schedule")
    def read_schedule(request: Request, dataset: str) -> Any:
        who = principal(request, Permission.READ)
        hour = datasets.schedule_hour(who.project_id, dataset)
        return single(
            "Ingestion schedule read successfully.",
            {"dataset": dataset, "scheduled_hour_pst": hour},
        )

    @router.post("/console/v1/ingestion/schedule")
    def update_schedule(request: Request, body: ScheduleUpdate) -> Any:
        who = principal(request, Permission.CONFIGURE)
        if not float(body.scheduled_hour_pst).is_integer():
            raise InvalidInput("scheduled_hour_pst must be a whole hour from 0 to 23")
        hour = datasets.set_schedule_hour(
            who.project_id, body.dataset, int(body.scheduled_hour_pst)
        )
        return single(
            "Ingestion schedule updated successfully.",
            {"dataset": body.dataset, "scheduled_hour_pst": hour},
        )

    @router.post("/v1/mark_data_ready_dwh")
    def mark_data_ready(request: Request, body: MarkDataReady) -> Any:
        who = principal(request, Permission.INGEST)
        ready_calls.hit(f"{who.project_id}:{body.type}")
        stamps = [body.datestamps] if isinstance(body.datestamps, str) else body.datestamps
        try:
            days = sorted({date.fromisoformat(s) for s in stamps})
        except ValueError:
            raise InvalidInput("datestamps must be YYYY-MM-DD dates") from None
        run = datasets.start(
            who.project_id,
            body.type,
            days,
            trigger="api",
            names=body.sources,
            api_triggered=True,
            origin=RunOrigin.STATSIG,
        )
        return {"success": True, "runID": run.id}

    # -- connections --------------------------------------------------------------------------

    @router.post("/console/v1/ingestion/connection/databricks")
    def databricks(request: Request, body: DatabricksConnection) -> Any:
        who = principal(request, Permission.CONFIGURE)
        view = services.catalog.create_connection(who.project_id, "databricks", body, replace=True)
        return single("Ingestion connection created successfully.", wire.connection(view))

    @router.post(
        "/console/v1/ingestion/connection/{connection_type}",
        openapi_extra=connection_bodies_openapi(),
    )
    def create_connection(request: Request, connection_type: str, body: dict[str, Any]) -> Any:
        """ingestd extension: the same path shape for every type ingestd can read; the body is
        the typed body of the path's type (unknown fields are refused, each one named)."""
        who = principal(request, Permission.CONFIGURE)
        kind = CONNECTION_KIND_OF_TYPE.get(connection_type)
        if kind is None:
            raise NotFound(f"Ingestion of type {connection_type} not found.")
        typed = parse_connection(kind, body)
        view = services.catalog.create_connection(
            who.project_id, connection_type, typed, replace=True
        )
        return single("Ingestion connection created successfully.", wire.connection(view))

    def connection_or_404(who: Principal, connection_type: str) -> ConnectionView:
        try:
            return services.catalog.get_connection(who.project_id, connection_type)
        except NotFound:
            raise NotFound(f"Ingestion of type {connection_type} not found.") from None

    @router.get("/console/v1/ingestion/connection/{connection_type}")
    def read_connection(request: Request, connection_type: str) -> Any:
        who = principal(request, Permission.READ)
        view = connection_or_404(who, connection_type)
        return single("Ingestion connection read successfully.", wire.connection(view))

    @router.delete("/console/v1/ingestion/connection/{connection_type}")
    def delete_connection(request: Request, connection_type: str) -> Any:
        who = principal(request, Permission.CONFIGURE)
        view = connection_or_404(who, connection_type)
        services.catalog.delete_connection(who.project_id, connection_type)
        return single("Ingestion connection deleted successfully.", wire.connection(view))

    # -- event counts -------------------------------------------------------------------------

    @router.get("/console/v1/ingestion/events/count")
    def event_count(
        request: Request,
        start_date: str,
        end_date: str,
        source_name: str | None = None,
        event_name: str | None = None,
    ) -> Any:
        who = principal(request, Permission.READ)
        start, end = wire.parse_range(start_date, end_date)
        counts = datasets.event_counts(
            services.warehouse, who.project_id, start, end, source=source_name, event=event_name
        )
        return single(
            "Ingestion event count read successfully.",
            wire.event_counts(counts, event_name, start, end),
        )

    @router.get("/console/v1/ingestion/events/delta")
    def event_delta(
        request: Request,
        start_date: str,
        end_date: str,
        source_name: str | None = None,
        event_name: str | None = None,
    ) -> Any:
        who = principal(request, Permission.READ)
        start, end = wire.parse_range(start_date, end_date)
        deltas = services.data_checks.deltas(
            who.project_id, start, end, source=source_name, event=event_name
        )
        return single(
            "Ingestion event delta read successfully.",
            wire.event_deltas(deltas, event_name, start, end),
        )

    return router
