"""Sliding-window rate limits per key (project, tenant), kept in this process's memory.

Several windows may apply at once (Statsig: about 100 per 10 s and 900 per 15 min). A request
that would pass any window is refused with the seconds until it would fit, for Retry-After.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from ingestd.errors import RateLimited


class RateLimiter:
    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``windows``: (max requests, seconds) pairs."""
        self.windows = tuple(windows)
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one request for ``key`` or raise ``RateLimited`` (nothing counted then)."""
        now = self.clock()
        longest = max((seconds for _, seconds in self.windows), default=0.0)
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - longest:
                hits.popleft()
            for limit, seconds in self.windows:
                inside = [t for t in hits if t > now - seconds]
                if len(inside) >= limit:
                    wait = inside[len(inside) - limit] + seconds - now
                    raise RateLimited(
                        f"too many requests: at most {limit} per {seconds:g} seconds",
                        retry_after=max(1, math.ceil(wait)),
                    )
            hits.append(now)
