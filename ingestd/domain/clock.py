"""The clock every time-dependent decision reads, injected so tests can fix it.

A clock is a callable returning an aware UTC ``datetime``. ``system_clock`` reads the wall clock;
``FixedClock`` always answers the same instant (tests, replays). Nothing that decides what day it
is ("today", "due", "last used") calls ``datetime.now`` itself: it asks the clock it was given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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


class Ascending:
    """``clock``, never answering an instant at or before one it answered already (each answer
    is at least a microsecond after the last). Histories ordered by time then keep the order
    things happened in even when the clock stands still (a ``FixedClock``) or steps back."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        now = self.clock()
        with self._lock:
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now
