"""Per-project rate limiting of the native API, as the dialects limit theirs.

Every authenticated ``/ingestd/v1`` request counts against its project (all of a project's
keys share one budget, like Statsig's per-project and Amperity's per-tenant limits):
``INGESTD_NATIVE_REQUESTS_PER_10S`` in any 10 seconds. Past it the answer is 429
``RATE_LIMITED`` in the native envelope with ``Retry-After``. The window lives in this
process's memory (``api.rate_limit``), one per app.
"""

from __future__ import annotations

from fastapi import Request

from ingestd.api.app_state import made_once
from ingestd.api.rate_limit import RateLimiter
from ingestd.control.access import Principal
from ingestd.control.services import Services


def _limiter(request: Request, services: Services) -> RateLimiter:
    return made_once(
        request,
        "native_limiter",
        lambda: RateLimiter([(services.settings.native_requests_per_10s, 10.0)]),
    )


def count(request: Request, services: Services, who: Principal) -> None:
    """Count the request against ``who``'s project, or raise ``RateLimited``."""
    _limiter(request, services).hit(f"project:{who.project_id}")
