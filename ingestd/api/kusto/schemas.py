"""Request bodies of the Kusto REST endpoints (API-SURFACE §3.2, §3.3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class QueuedBlob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    sourceId: str | None = None
    rawSize: int | None = None

    @field_validator("sourceId")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        # §5 item 25: validate as a GUID, echo it verbatim.
        if value is not None:
            try:
                uuid.UUID(value)
            except ValueError:
                raise ValueError(f"sourceId {value!r} is not a GUID") from None
        return value


class QueuedIngestBody(BaseModel):
    """§3.3: ``blobs`` and ``properties`` are required; ``timestamp`` is optional."""

    model_config = ConfigDict(extra="forbid")

    blobs: list[QueuedBlob]
    properties: dict[str, Any]
    timestamp: datetime | None = None


class MgmtBody(BaseModel):
    """§3.2: ``{"db", "csl", "properties"}``; the client request properties are accepted as an
    object or a JSON string and not used."""

    model_config = ConfigDict(extra="forbid")

    db: str | None = None
    csl: str
    properties: dict[str, Any] | str | None = None


class QueryBody(MgmtBody):
    """``POST /v1/rest/query`` and ``/v2/rest/query``: the same ``{"db", "csl",
    "properties"}`` body as management commands."""
