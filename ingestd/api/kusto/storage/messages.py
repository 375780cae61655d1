"""An ingestion message of the Kusto ingest SDKs (what ``IngestionBlobInfo.to_json`` writes,
base64-encoded in an Azure Queue ``<QueueMessage>``) to ``IngestionMessage``."""

from __future__ import annotations

import base64
import binascii
import json
import xml.etree.ElementTree as ET
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingestd.api.kusto.properties import parse_properties
from ingestd.control.kusto.errors import KustoBadRequest
from ingestd.control.kusto.queued import IngestionProperties
from ingestd.control.kusto.storage.queues import IngestionMessage, StatusInTable
from ingestd.domain.kusto_storage import ReportLevel, ReportMethod
from ingestd.errors import InvalidInput

MAX_MESSAGE_BYTES = 64 * 1024
"""Azure Queue's limit on one message."""


class _StatusInTable(BaseModel):
    model_config = ConfigDict(extra="ignore")

    TableConnectionString: str = Field(min_length=1)
    PartitionKey: str = Field(min_length=1)
    RowKey: str = Field(min_length=1)


class _Message(BaseModel):
    # The SDKs add tracing fields from version to version (ApplicationForTracing, ...): they are
    # ignored rather than refused, as the service does.
    model_config = ConfigDict(extra="ignore")

    BlobPath: str = Field(min_length=1)
    DatabaseName: str = Field(min_length=1)
    TableName: str = Field(min_length=1)
    Id: str = Field(min_length=1, max_length=64)
    RawDataSize: int | None = None
    ReportLevel: int = 0
    ReportMethod: int = 0
    FlushImmediately: bool = False
    RetainBlobOnSuccess: bool = True
    AdditionalProperties: dict[str, Any] = Field(default_factory=dict)
    IngestionStatusInTable: _StatusInTable | None = None


def message_text(body: bytes) -> str:
    """The ``MessageText`` of a Put Message body."""
    if len(body) > MAX_MESSAGE_BYTES:
        raise InvalidInput(f"the message is larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise InvalidInput(
            f"the body is not a <QueueMessage> XML document: {exc}",
            hint="send <QueueMessage><MessageText>...</MessageText></QueueMessage>",
        ) from exc
    text = root.findtext("MessageText")
    if root.tag != "QueueMessage" or text is None:
        raise InvalidInput(
            "the body has no <QueueMessage><MessageText>",
            hint="send <QueueMessage><MessageText>...</MessageText></QueueMessage>",
        )
    return text


def parse_message(text: str) -> IngestionMessage:
    """Decode and validate; ``InvalidInput`` (or a Kusto property error) says what is wrong."""
    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = text  # the Node SDK may send the JSON as it is
    try:
        raw = json.loads(decoded)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the ingestion message is not JSON: {exc.msg} at character {exc.pos}"
        ) from exc
    try:
        message = _Message.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"the ingestion message is invalid: {problems}") from exc
    if message.ReportLevel not in (0, 1, 2):
        raise InvalidInput("ReportLevel must be 0 (failures), 1 (none) or 2 (all)")
    if message.ReportMethod not in (0, 1, 2):
        raise InvalidInput("ReportMethod must be 0 (queue), 1 (table) or 2 (queue and table)")
    method = ReportMethod(str(message.ReportMethod))
    # ReportMethod Table without IngestionStatusInTable (the Python SDK sends that: it has
    # the setting but never writes the entity) names no entity: nothing to update.
    table = message.IngestionStatusInTable
    additional = dict(message.AdditionalProperties)
    context = additional.pop("authorizationContext", None)
    properties: IngestionProperties | None = None
    refusal: KustoBadRequest | None = None
    try:
        properties = parse_properties(
            {k: v for k, v in additional.items() if v is not None}, context="command"
        )
    except KustoBadRequest as exc:  # the service accepts the message and reports the failure
        refusal = exc
    return IngestionMessage(
        blob_url=message.BlobPath,
        database=message.DatabaseName,
        table=message.TableName,
        source_id=message.Id,
        raw_size=message.RawDataSize,
        report_level=ReportLevel(str(message.ReportLevel)),
        properties=properties,
        refusal=refusal,
        authorization_context=context,
        report_method=method,
        status_in_table=None
        if table is None
        else StatusInTable(table.TableConnectionString, table.PartitionKey, table.RowKey),
    )
