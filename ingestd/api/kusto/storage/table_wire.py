"""Wire shapes of the status table: Azure Table's JSON (``odata=minimalmetadata``) entities,
query pages, request paths and error bodies, as the Table SDKs (azure-data-tables and the
Kusto SDKs built on it) read and write them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestd.domain.kusto_storage import EntityValue, StatusEntity
from ingestd.errors import InvalidInput

_PATH = re.compile(
    r"^(?P<table>[A-Za-z][A-Za-z0-9]{2,62})"
    r"(?:\((?:PartitionKey='(?P<pk>(?:[^']|'')*)',RowKey='(?P<rk>(?:[^']|'')*)')?\))?$"
)
_SYSTEM = {"PartitionKey", "RowKey", "Timestamp", "odata.etag", "odata.metadata"}
MAX_ENTITY_BYTES = 1024 * 1024
"""Azure Table's limit on one entity."""


@dataclass(frozen=True)
class TablePath:
    table: str
    key: tuple[str, str] | None
    """(PartitionKey, RowKey) when the path addresses one entity."""
    collection: bool
    """``table()`` or ``table``: the table's entities (query, insert)."""


def parse_path(path: str) -> TablePath:
    match = _PATH.match(path)
    if match is None:
        raise InvalidInput(f"{path!r} is not a table or entity path")
    if match.group("pk") is not None:
        key = (match.group("pk").replace("''", "'"), match.group("rk").replace("''", "'"))
        return TablePath(match.group("table"), key, False)
    return TablePath(match.group("table"), None, True)


def etag(value: str) -> str:
    return f'W/"{value}"'


def if_match(header: str | None) -> str | None:
    """The ETag an ``If-Match`` header names (``*`` for any), None without one."""
    if header is None:
        return None
    value = header.strip()
    if value == "*":
        return value
    return value.removeprefix("W/").strip('"')


def _timestamp(value: datetime | None) -> str:
    return (value or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def entity_json(entity: StatusEntity, metadata: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if metadata is not None:
        body["odata.metadata"] = metadata
    body |= {
        "odata.etag": etag(entity.etag),
        "PartitionKey": entity.partition_key,
        "RowKey": entity.row_key,
        "Timestamp": _timestamp(entity.updated_at),
        "Timestamp@odata.type": "Edm.DateTime",
    }
    body |= dict(entity.properties)
    return body


def query_json(table: str, base: str, entities: list[StatusEntity]) -> dict[str, Any]:
    return {
        "odata.metadata": f"{base}/$metadata#{table}",
        "value": [entity_json(e) for e in entities],
    }


def parse_entity(body: bytes) -> tuple[str | None, str | None, dict[str, EntityValue]]:
    """PartitionKey, RowKey and the other properties of an entity body."""
    if len(body) > MAX_ENTITY_BYTES:
        raise InvalidInput(f"an entity is at most {MAX_ENTITY_BYTES} bytes")
    try:
        raw = json.loads(body or b"{}")
    except ValueError as exc:
        raise InvalidInput(f"the entity is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidInput("the entity is a JSON object of properties")
    properties: dict[str, EntityValue] = {}
    for name, value in raw.items():
        if name in _SYSTEM or name.startswith(("Timestamp@", "odata.")):
            continue
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise InvalidInput(f"property {name!r} is not a string, number or boolean")
        properties[name] = value
    pk, rk = raw.get("PartitionKey"), raw.get("RowKey")
    properties.pop("PartitionKey@odata.type", None)
    properties.pop("RowKey@odata.type", None)
    return (
        pk if isinstance(pk, str) else None,
        rk if isinstance(rk, str) else None,
        properties,
    )


def error_json(code: str, message: str) -> str:
    return json.dumps(
        {"odata.error": {"code": code, "message": {"lang": "en-US", "value": message}}}
    )
