"""What an app keeps on ``app.state`` for its whole life and makes on first use (a dialect's
rate limiters and options): made once, whichever of the concurrent first requests gets there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request

T = TypeVar("T")

_making = threading.RLock()
"""Re-entrant: making one value may make another."""


def made_once(request: Request, attribute: str, make: Callable[[], T]) -> T:
    """``app.state.<attribute>`` of the request's app; on first use ``make()`` makes it and it
    is kept there (also when ``make`` put it there itself)."""
    state = request.app.state
    found: T | None = getattr(state, attribute, None)
    if found is None:
        with _making:
            found = getattr(state, attribute, None)
            if found is None:
                found = make()
                setattr(state, attribute, found)
    return found
