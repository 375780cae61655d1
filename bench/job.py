"""What one child process is asked to load, and what it reports back (stdlib only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.dataset import Format

LOAD_KEY = "bench:1"
DAY = "2024-01-01"
EVENTS_MAPPING: dict[str, Any] = {
    "unit_id": "user_id",
    "event_name": "event_name",
    "timestamp": "ts",
    "event_value": "value",
    "metadata_object": "meta",
    "ids": {"userID": "user_id"},
}
"""The Statsig column_mapping every approach implements (ingestd takes it as is)."""


@dataclass(frozen=True)
class Job:
    fmt: Format
    source: Path
    db: Path
    work: Path
    """Scratch folder of this run (spill, staging, dlt's pipeline state)."""
    memory_limit: str
    limit_rows: int | None = None
    """Read only this many source rows (dlt with dicts runs on a slice and is extrapolated)."""


@dataclass
class Outcome:
    inserted: int
    """Rows in the destination table after the load."""
    rows_read: int | None = None
    """Source rows consumed, when the approach knows it (None: the whole file)."""
    counts: dict[str, int] = field(default_factory=dict)
    """ingestd's accounting (read, inserted, updated, rejected, errors)."""
