"""``POST /v2/rest/query`` (v2 frames) and ``POST /v1/rest/query`` (v1 tables): the KQL subset
of docs/kusto-queries.md over the caller's project's tables. A read key may query."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from ingestd.api.deps import ServicesDep
from ingestd.api.kusto import query_wire
from ingestd.api.kusto.deps import ClientRequestId, Reader
from ingestd.api.kusto.errors import KustoRoute, activity_id
from ingestd.api.kusto.schemas import QueryBody

router = APIRouter(route_class=KustoRoute, tags=["kusto"])


@router.post("/v2/rest/query")
def query_v2(
    request: Request,
    who: Reader,
    services: ServicesDep,
    request_id: ClientRequestId,
    body: QueryBody,
) -> list[dict[str, Any]]:
    result = services.kusto_queries.run(who.project_id, body.db, body.csl)
    return query_wire.v2_frames(
        result,
        now=datetime.now(UTC),
        client_request_id=request_id,
        activity_id=activity_id(request),
    )


@router.post("/v1/rest/query")
def query_v1(
    request: Request,
    who: Reader,
    services: ServicesDep,
    request_id: ClientRequestId,
    body: QueryBody,
) -> dict[str, Any]:
    result = services.kusto_queries.run(who.project_id, body.db, body.csl)
    return query_wire.v1_tables(
        result,
        now=datetime.now(UTC),
        client_request_id=request_id,
        activity_id=activity_id(request),
    )
