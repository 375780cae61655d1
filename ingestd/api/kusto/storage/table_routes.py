"""The status table's routes (``/_storage/table/{project}/ingestionsstatus...``): Insert Entity
(POST), Get Entity and Query Entities (GET, ``$filter`` on the keys, ``$top``), Update Entity
(PUT), Merge Entity (MERGE or PATCH) and Delete Entity, each authorised by the SAS in its URL
(``control.kusto.storage.status_table`` holds the rules)."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ingestd.api.kusto.storage import table_wire
from ingestd.control.kusto.storage.status_table import EntityFilter, StatusTable, parse_filter
from ingestd.domain.kusto_storage import Resource, StatusEntity, StorageService
from ingestd.errors import InvalidInput, MethodNotAllowed

Authorise = Callable[[Request, StorageService, str, str, str], tuple[int, Resource]]
_PERMISSION = {"GET": "r", "POST": "a", "PUT": "u", "MERGE": "u", "PATCH": "u", "DELETE": "d"}
_JSON = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"


def add_table_routes(router: APIRouter, table: StatusTable, authorise: Authorise) -> None:
    # One handler for every method: FastAPI would give each method the same operation id,
    # and an emulation route has nothing to document in /openapi.json.
    @router.api_route(
        "/_storage/table/{account}/{path:path}",
        methods=list(_PERMISSION),
        include_in_schema=False,
    )
    async def entities(request: Request, account: str, path: str) -> Response:
        target = table_wire.parse_path(path)
        method = request.method.upper()
        project_id, _ = authorise(
            request, StorageService.TABLE, account, target.table, _PERMISSION[method]
        )
        body = await request.body() if method in ("POST", "PUT", "MERGE", "PATCH") else b""
        base = str(request.base_url).rstrip("/") + f"/_storage/table/{account}"
        return await run_in_threadpool(
            _serve, table, request, method, project_id, target, body, base
        )


def _serve(
    table: StatusTable,
    request: Request,
    method: str,
    project_id: int,
    target: table_wire.TablePath,
    body: bytes,
    base: str,
) -> Response:
    name = target.table
    if method == "GET" and target.key is not None:
        entity = table.get(project_id, *target.key)
        metadata = f"{base}/$metadata#{name}/@Element"
        return _json(table_wire.entity_json(entity, metadata), 200, entity.etag)
    if method == "GET":
        where: EntityFilter = parse_filter(request.query_params.get("$filter"))
        top = request.query_params.get("$top")
        if top is not None and not top.isdigit():
            raise InvalidInput(f"$top must be a number, not {top!r}")
        found = table.query(project_id, where, int(top) if top else None)
        return _json(table_wire.query_json(name, base, found), 200)
    if method == "POST":
        if not target.collection:
            raise MethodNotAllowed("insert an entity with POST to the table, not to an entity")
        pk, rk, properties = table_wire.parse_entity(body)
        if pk is None or rk is None:
            raise InvalidInput("an entity needs a PartitionKey and a RowKey (strings)")
        entity = table.insert(project_id, StatusEntity(pk, rk, properties))
        if "return-no-content" in request.headers.get("prefer", ""):
            return Response(status_code=204, headers=_etag(entity.etag))
        metadata = f"{base}/$metadata#{name}/@Element"
        return _json(table_wire.entity_json(entity, metadata), 201, entity.etag)
    if target.key is None:
        raise MethodNotAllowed(f"{method} addresses one entity: {name}(PartitionKey=..,RowKey=..)")
    wanted = table_wire.if_match(request.headers.get("if-match"))
    if method == "DELETE":
        table.delete(project_id, *target.key, wanted or "*")
        return Response(status_code=204)
    _, _, properties = table_wire.parse_entity(body)
    new = table.write(project_id, *target.key, properties, merge=method != "PUT", if_match=wanted)
    return Response(status_code=204, headers=_etag(new))


def _etag(value: str) -> dict[str, str]:
    return {"ETag": table_wire.etag(value)}


def _json(body: object, status: int, etag: str | None = None) -> Response:
    headers = _etag(etag) if etag is not None else {}
    return Response(json.dumps(body), status_code=status, media_type=_JSON, headers=headers)
