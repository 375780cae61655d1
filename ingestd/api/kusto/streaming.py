"""``POST /v1/rest/ingest/{database}/{table}?streamFormat=...&mappingName=...``: Kusto streaming
ingestion (K12 ``streaming-ingest.md``; docs/kusto-sdk.md).

The body is the data (``Content-Encoding: gzip`` or plain), or with ``sourceKind=uri`` a JSON
``{"sourceUri": "<blob url>"}``. The router reads at most the streaming limit, then
``control.kusto.streaming`` loads it before the answer: a v1 frame of one row. Errors are
OneApiErrors whose ``@permanent`` tells the SDK's managed client to raise (permanent) or to
fall back to queued ingestion (transient, too large).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ingestd.api.deps import ServicesDep
from ingestd.api.kusto import wire
from ingestd.api.kusto.deps import ClientRequestId, Ingester
from ingestd.api.kusto.errors import KustoRoute
from ingestd.api.kusto.properties import parse_properties
from ingestd.api.request_body import bounded_body
from ingestd.control.kusto.streaming import (
    MAX_STREAMING_BYTES,
    StreamingResult,
    decode_body,
    too_large,
)
from ingestd.domain.sources import DataFormat
from ingestd.errors import EmptyBlobUrl, IngestdError, InvalidInput, InvalidProperty

_GZIP_SLACK = 64 * 1024
"""A gzip body of data within the limit can be a little larger than the data itself."""
_URI_BODY_BYTES = 64 * 1024


router = APIRouter(route_class=KustoRoute, tags=["kusto"])


@router.post("/v1/rest/ingest/{database}/{table}")
async def streaming_ingest(
    request: Request,
    who: Ingester,
    services: ServicesDep,
    request_id: ClientRequestId,
    database: str,
    table: str,
    streamFormat: str | None = None,  # the vendor's query parameter names
    mappingName: str | None = None,
    sourceKind: str | None = None,
) -> dict[str, Any]:
    """Load the body into the table before answering (one v1 table, one row)."""
    if not streamFormat:
        raise InvalidProperty(
            "streamFormat is required (csv, tsv, json, multijson, parquet, ...)",
            hint="add ?streamFormat=csv to the URL",
        )
    raw: dict[str, Any] = {"format": streamFormat}
    if mappingName:
        raw["ingestionMappingReference"] = mappingName
    properties = parse_properties(raw, context="command")
    assert properties.format is not None
    streaming = services.kusto_streaming
    result: StreamingResult
    if (sourceKind or "").lower() == "uri":
        url = _source_uri(await bounded_body(request, _URI_BODY_BYTES, _too_large))
        result = await run_in_threadpool(
            streaming.ingest_uri,
            who.project_id,
            database,
            table,
            url,
            properties,
            client_request_id=request_id,
        )
    else:
        gzip = "gzip" in request.headers.get("content-encoding", "").lower()
        body = await bounded_body(request, MAX_STREAMING_BYTES + _GZIP_SLACK, _too_large)
        data = await run_in_threadpool(decode_body, body, gzip=gzip)
        result = await run_in_threadpool(
            streaming.ingest,
            who.project_id,
            database,
            table,
            data,
            properties,
            client_request_id=request_id,
            extension=_extension(properties.format),
        )
    return wire.v1_response([wire.streaming_result(result.operation, result.unit)])


def _extension(data_format: DataFormat) -> str:
    return data_format.value


def _too_large() -> IngestdError:
    return too_large(MAX_STREAMING_BYTES)


def _source_uri(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise InvalidInput(
            f'with sourceKind=uri the body is JSON {{"sourceUri": ...}}: {exc}',
        ) from exc
    url = parsed.get("sourceUri") if isinstance(parsed, dict) else None
    if not isinstance(url, str) or not url.strip():
        raise EmptyBlobUrl(
            'with sourceKind=uri the body names the blob: {"sourceUri": "<url>"}',
        )
    return url
