"""Where "now" comes from. Components that need the time take a ``Clock`` so tests can fix it.

Pure: no I/O, no third-party imports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A callable giving the current time as an aware UTC datetime."""

    def __call__(self) -> datetime: ...


def system_clock() -> datetime:
    """The machine's wall clock, in UTC: the default ``Clock`` of a running service."""
    return datetime.now(UTC)
