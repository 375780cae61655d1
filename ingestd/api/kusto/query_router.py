"""``POST /v2/rest/query`` (v2 frames) and ``POST /v1/rest/query`` (v1 tables): the KQL subset
of docs/kusto-queries.md over the caller's project's tables. A read key may query."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from ingestd.api.kusto import query_wire
from ingestd.api.kusto.schemas import QueryBody
from ingestd.control.access import Permission, Principal
from ingestd.control.kusto_queries import KustoQueries
from ingestd.control.services import Services


def add_query_routes(
    router: APIRouter,
    services: Services,
    principal: Callable[[Request, Permission], Principal],
    client_request_id: Callable[[Request], str],
    activity_id: Callable[[Request], str],
) -> None:
    def queries() -> KustoQueries:
        # Built per request: the destination opens on first use (Services.warehouse).
        return KustoQueries(
            services.catalog,
            services.warehouse,
            max_rows=services.settings.kusto_query_max_rows,
            timeout_seconds=services.settings.kusto_query_timeout_seconds,
        )

    @router.post("/v2/rest/query")
    def query_v2(request: Request, body: QueryBody) -> list[dict[str, Any]]:
        who = principal(request, Permission.READ)
        result = queries().run(who.project_id, body.db, body.csl)
        return query_wire.v2_frames(
            result,
            now=datetime.now(UTC),
            client_request_id=client_request_id(request),
            activity_id=activity_id(request),
        )

    @router.post("/v1/rest/query")
    def query_v1(request: Request, body: QueryBody) -> dict[str, Any]:
        who = principal(request, Permission.READ)
        result = queries().run(who.project_id, body.db, body.csl)
        return query_wire.v1_tables(
            result,
            now=datetime.now(UTC),
            client_request_id=client_request_id(request),
            activity_id=activity_id(request),
        )
