"""Wire shapes of the Kusto SDK storage: the two mgmt result tables and the Azure Storage XML
bodies (Queue service messages, error bodies) the SDKs' storage clients parse."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from ingestd.api.kusto.wire import V1Table
from ingestd.domain.kusto_storage import QueueMessage

STORAGE_VERSION = "2023-11-03"


def resource_urls(rows: Sequence[tuple[str, str]]) -> V1Table:
    """``.get ingestion resources``: one row per resource (``ResourceTypeName``,
    ``StorageRoot``), as the service answers."""
    return V1Table(
        (("ResourceTypeName", "string"), ("StorageRoot", "string")),
        [[name, url] for name, url in rows],
    )


def identity_token(token: str) -> V1Table:
    """``.get kusto identity token``: one row, ``AuthorizationContext``."""
    return V1Table((("AuthorizationContext", "string"),), [[token]])


def http_date(value: datetime) -> str:
    return format_datetime(value, usegmt=True)


def _xml(body: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>{body}'


def put_message_body(message: QueueMessage) -> str:
    return _xml(
        "<QueueMessagesList><QueueMessage>"
        f"<MessageId>{escape(message.id)}</MessageId>"
        f"<InsertionTime>{http_date(message.inserted_at)}</InsertionTime>"
        f"<ExpirationTime>{http_date(message.expires_at)}</ExpirationTime>"
        f"<PopReceipt>{escape(message.pop_receipt)}</PopReceipt>"
        f"<TimeNextVisible>{http_date(message.visible_at)}</TimeNextVisible>"
        "</QueueMessage></QueueMessagesList>"
    )


def messages_body(messages: Sequence[QueueMessage], *, peek: bool) -> str:
    """Get Messages (with pop receipts) or Peek Messages (without); the text is base64, which
    the SDK's ``TextBase64DecodePolicy`` decodes."""
    items = []
    for m in messages:
        text = base64.b64encode(m.content.encode()).decode()
        receipt = (
            ""
            if peek
            else f"<PopReceipt>{escape(m.pop_receipt)}</PopReceipt>"
            f"<TimeNextVisible>{http_date(m.visible_at)}</TimeNextVisible>"
        )
        items.append(
            "<QueueMessage>"
            f"<MessageId>{escape(m.id)}</MessageId>"
            f"<InsertionTime>{http_date(m.inserted_at)}</InsertionTime>"
            f"<ExpirationTime>{http_date(m.expires_at)}</ExpirationTime>"
            f"{receipt}"
            f"<DequeueCount>{m.dequeue_count}</DequeueCount>"
            f"<MessageText>{text}</MessageText>"
            "</QueueMessage>"
        )
    return _xml(f"<QueueMessagesList>{''.join(items)}</QueueMessagesList>")


def error_body(code: str, message: str) -> str:
    return _xml(f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>")
