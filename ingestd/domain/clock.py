"""The clock every time-dependent decision reads, injected so tests can fix it.

A clock is a callable returning an aware UTC ``datetime``. ``system_clock`` reads the wall clock;
``FixedClock`` always answers the same instant (tests, replays). Nothing that decides what day it
is ("today", "due", "last used") calls ``datetime.now`` itself: it asks the clock it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at ``at`` (which must be time-zone aware)."""

    at: datetime

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("a FixedClock needs a time-zone aware datetime")

    def __call__(self) -> datetime:
        return self.at
