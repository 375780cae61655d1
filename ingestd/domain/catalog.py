"""What a project's catalog holds, as the store returns it and every front end shows it:
its connections (settings only, never secrets) and its sources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingestd.domain.mapping import Mapping
from ingestd.domain.sources import ErrorPolicy, LoadMode, ReadOptions


@dataclass(frozen=True)
class ConnectionView:
    id: int
    name: str
    kind: str
    config: dict[str, Any]
    has_secrets: bool


@dataclass(frozen=True)
class SourceView:
    id: int
    name: str
    table: str
    """Qualified ``namespace.name``."""
    connection: str | None
    dataset: str | None
    path_template: str | None
    query: str | None
    read_options: ReadOptions
    mapping: Mapping
    column_mapping: dict[str, Any] | None
    load_mode: LoadMode
    error_policy: ErrorPolicy
    schedule_hour_pst: int | None
    api_triggered: bool
    enabled: bool
