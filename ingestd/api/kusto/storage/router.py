"""The subset of the Azure Storage REST API that the Kusto ingest SDKs call, served for each
project under ``/_storage/{service}/{project}/{resource}`` (docs/kusto-sdk.md):

* Blob (the temporary container): Put Blob, Put Block and Put Block List (the SDK's storage
  client splits large uploads into blocks), Get Blob;
* Queue: Put Message on the ready-for-aggregation queue; Get Messages, Peek Messages, Delete
  Message and Clear Messages on the success and failure queues;
* Table (the status table, ``table_routes``): Insert, Get, Query, Update, Merge and Delete
  Entity, answered in Azure Table's JSON.

Every request is authorised by the SAS in its query (``control.kusto.storage.sas``) for that
project and resource: none is 401 ``NoAuthenticationInformation``, one that does not authorise
the request 403 ``AuthenticationFailed``. Errors are Azure's XML ``<Error>`` with
``x-ms-error-code``.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ingestd.api.errors import dialect_route
from ingestd.api.kusto.storage import table_wire, wire
from ingestd.api.kusto.storage.messages import message_text, parse_message
from ingestd.api.kusto.storage.table_routes import add_table_routes
from ingestd.api.request_body import bounded_body
from ingestd.control.kusto.storage.sas import StorageAuthFailed
from ingestd.control.kusto.storage.status_table import EntityConflict, PreconditionFailed
from ingestd.control.kusto.storage.uploads import UploadTooLarge
from ingestd.control.services import Services
from ingestd.domain.kusto_storage import (
    NOTIFICATION_QUEUES,
    Resource,
    StorageService,
    resource_named,
)
from ingestd.errors import (
    Forbidden,
    IngestdError,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    Unauthenticated,
)

MAX_BLOCK_LIST_BYTES = 4 * 1024 * 1024
TABLE_PREFIX = "/_storage/table/"


class NotServed(IngestdError):
    code = "NOT_IMPLEMENTED"
    http_status = 501


def _azure_code(exc: IngestdError) -> str:
    if isinstance(exc, Unauthenticated):
        return "NoAuthenticationInformation"
    if isinstance(exc, StorageAuthFailed | Forbidden):
        return "AuthenticationFailed"
    if isinstance(exc, UploadTooLarge):
        return "RequestBodyTooLarge"
    if isinstance(exc, NotFound):
        return "ResourceNotFound"
    if isinstance(exc, MethodNotAllowed):
        return "UnsupportedHttpVerb"
    if isinstance(exc, NotServed):
        return "NotImplemented"
    if isinstance(exc, EntityConflict):
        return "EntityAlreadyExists"
    if isinstance(exc, PreconditionFailed):
        return "UpdateConditionNotSatisfied"
    return "InvalidInput" if exc.http_status < 500 else "InternalError"


def render_error(request: Request, exc: IngestdError) -> Response:
    """Azure Storage's error body; a 5xx says only that the server failed."""
    status = exc.http_status
    message = str(exc) if status < 500 else "internal error; see the server log"
    code = _azure_code(exc)
    if request.url.path.startswith(TABLE_PREFIX):  # the Table service answers in JSON
        return Response(
            table_wire.error_json(code, message),
            status_code=status,
            media_type="application/json;odata=minimalmetadata;charset=utf-8",
            headers={"x-ms-error-code": code, **_headers()},
        )
    return Response(
        wire.error_body(code, message),
        status_code=status,
        media_type="application/xml",
        headers={"x-ms-error-code": code, **_headers()},
    )


def _headers() -> dict[str, str]:
    return {"x-ms-request-id": str(uuid.uuid4()), "x-ms-version": wire.STORAGE_VERSION}


def _route_class() -> type[APIRoute]:
    base = dialect_route(render_error)

    class StorageRoute(base):  # type: ignore[misc,valid-type]
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def stamped(request: Request) -> Response:
                response: Response = await handler(request)
                for name, value in _headers().items():
                    response.headers.setdefault(name, value)
                return response

            return stamped

    return StorageRoute


def build_router(services: Services) -> APIRouter:
    queues = services.kusto_queues
    uploads = services.kusto_uploads
    signer = services.kusto_signer
    router = APIRouter(route_class=_route_class(), tags=["kusto-storage"])

    def authorise(
        request: Request, service: StorageService, account: str, name: str, permission: str
    ) -> tuple[int, Resource]:
        resource = resource_named(service, name)
        if resource is None:
            raise NotFound(f"{service.value} {name!r} does not exist")
        try:
            project_id = services.access.project_id(account)
        except NotFound:
            raise StorageAuthFailed() from None
        signer.check(dict(request.query_params), project_id, resource, permission)
        return project_id, resource

    # -- blob ---------------------------------------------------------------------------------

    @router.put("/_storage/blob/{account}/{container}/{blob}")
    async def put_blob(request: Request, account: str, container: str, blob: str) -> Response:
        comp = request.query_params.get("comp")
        project_id, _ = authorise(request, StorageService.BLOB, account, container, "w")
        if comp == "block":
            block_id = request.query_params.get("blockid") or ""
            if not block_id:
                raise InvalidInput("Put Block needs a blockid")
            declared = _content_length(request)
            with uploads.block_writer(project_id, blob, block_id, declared=declared) as writer:
                async for chunk in request.stream():
                    await run_in_threadpool(writer.write, chunk)
        elif comp == "blocklist":
            body = await _bounded_body(request, MAX_BLOCK_LIST_BYTES)
            await run_in_threadpool(uploads.commit_blocks, project_id, blob, _block_ids(body))
        elif comp is None:
            if request.headers.get("x-ms-blob-type", "BlockBlob") != "BlockBlob":
                raise InvalidInput("only block blobs are accepted (x-ms-blob-type: BlockBlob)")
            with uploads.writer(project_id, blob, declared=_content_length(request)) as writer:
                async for chunk in request.stream():
                    await run_in_threadpool(writer.write, chunk)
        else:
            raise NotServed(f"blob operation comp={comp} is not served")
        now = datetime.now(UTC)
        return Response(
            status_code=201,
            headers={
                "ETag": f'"{uuid.uuid4().hex}"',
                "Last-Modified": wire.http_date(now),
                "x-ms-request-server-encrypted": "false",
            },
        )

    @router.get("/_storage/blob/{account}/{container}/{blob}")
    def get_blob(request: Request, account: str, container: str, blob: str) -> Response:
        project_id, _ = authorise(request, StorageService.BLOB, account, container, "r")
        stored = uploads.open(project_id, uploads.relative(project_id, blob))
        return StreamingResponse(
            stored.read(),
            media_type="application/octet-stream",
            headers={"Content-Length": str(stored.size)},
        )

    # -- queue --------------------------------------------------------------------------------

    @router.post("/_storage/queue/{account}/{queue}/messages")
    async def put_message(request: Request, account: str, queue: str) -> Response:
        project_id, resource = authorise(request, StorageService.QUEUE, account, queue, "a")
        if resource is not Resource.READY_QUEUE:
            raise Forbidden(f"messages cannot be posted to {queue}")
        body = await _bounded_body(request, 2 * 65536)
        message = parse_message(message_text(body))
        receipt = await run_in_threadpool(queues.ingest, project_id, message)
        return _xml(wire.put_message_body(receipt), 201)

    @router.get("/_storage/queue/{account}/{queue}/messages")
    def get_messages(request: Request, account: str, queue: str) -> Response:
        peek = request.query_params.get("peekonly", "").lower() == "true"
        project_id, resource = authorise(
            request, StorageService.QUEUE, account, queue, "r" if peek else "p"
        )
        count = _int(request, "numofmessages", 1, 1, 32)
        if resource not in NOTIFICATION_QUEUES:
            raise Forbidden(f"messages of {queue} cannot be read")
        if peek:
            messages = queues.peek(project_id, resource, count)
        else:
            hide = timedelta(seconds=_int(request, "visibilitytimeout", 30, 1, 7 * 86400))
            messages = queues.receive(project_id, resource, count, hide)
        return _xml(wire.messages_body(messages, peek=peek), 200)

    @router.delete("/_storage/queue/{account}/{queue}/messages/{message_id}")
    def delete_message(request: Request, account: str, queue: str, message_id: str) -> Response:
        project_id, resource = authorise(request, StorageService.QUEUE, account, queue, "p")
        receipt = request.query_params.get("popreceipt") or ""
        queues.delete(project_id, resource, message_id, receipt)
        return Response(status_code=204)

    @router.delete("/_storage/queue/{account}/{queue}/messages")
    def clear_messages(request: Request, account: str, queue: str) -> Response:
        project_id, resource = authorise(request, StorageService.QUEUE, account, queue, "p")
        queues.clear(project_id, resource)
        return Response(status_code=204)

    # -- table --------------------------------------------------------------------------------

    add_table_routes(router, services.kusto_status_table, authorise)

    return router


def _xml(body: str, status: int) -> Response:
    return Response(body, status_code=status, media_type="application/xml")


def _content_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else None


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a number from {low} to {high}, not {raw!r}")
    return int(raw)


async def _bounded_body(request: Request, limit: int) -> bytes:
    def refusal() -> UploadTooLarge:
        return UploadTooLarge(f"the request body is larger than {limit} bytes")

    return await bounded_body(request, limit, refusal)


def _block_ids(body: bytes) -> list[str]:
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise InvalidInput(f"the block list is not XML: {exc}") from exc
    ids = [e.text or "" for e in root if e.tag in ("Latest", "Committed", "Uncommitted")]
    if root.tag != "BlockList" or not ids:
        raise InvalidInput("the block list names no blocks (<BlockList><Latest>id</Latest>)")
    return ids
