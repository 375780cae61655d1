"""Retry policy: exponential backoff with jitter, bounded attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    """Attempts in all, the first included; Transient failures past this end Exhausted."""
    base_seconds: float = 2.0
    max_seconds: float = 300.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        Doubles each attempt up to ``max_seconds``, then takes a random point in its upper
        half ("equal jitter"), so retries of many units spread out instead of stampeding.
        """
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1))
        fraction: float = (rng or random).random()
        return ceiling / 2 + fraction * ceiling / 2

    def can_retry(self, attempt: int) -> bool:
        return attempt < self.max_attempts
