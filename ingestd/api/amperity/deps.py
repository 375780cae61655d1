"""What every Amperity route depends on: the app's dialect options and the caller, checked by
the protocol's gate (``protocol.Gate``: bearer, tenant, rate limit, API version, permission).

The options (the rate limiters' windows, the OAuth service, strict error bodies) are one per
app: made from the settings on the app's first Amperity request, or set beforehand with
``configure`` (tests, embedding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response

from ingestd.api.amperity.protocol import Gate, render
from ingestd.api.app_state import made_once
from ingestd.api.rate_limit import RateLimiter
from ingestd.control.access import Permission, Principal
from ingestd.control.amperity.oauth import OAuth
from ingestd.errors import IngestdError
from ingestd.services import Services


@dataclass(frozen=True)
class AmperityOptions:
    gate: Gate
    """§2.1: 10 requests per second per tenant (``amperity_requests_per_second``)."""
    stream_limiter: RateLimiter
    """§2.5: the streaming API allows 1000 per second."""
    strict_errors: bool
    """Error bodies with only the OpenAPI ``ErrorResponse`` fields (``protocol.render``)."""


def configure(
    app: FastAPI,
    services: Services,
    *,
    limiter: RateLimiter | None = None,
    stream_limiter: RateLimiter | None = None,
    oauth: OAuth | None = None,
    strict_errors: bool | None = None,
) -> AmperityOptions:
    """The app's options: each one given replaces the default the settings make."""
    settings = services.settings
    options = AmperityOptions(
        gate=Gate(
            oauth or services.oauth,
            limiter or RateLimiter([(settings.amperity_requests_per_second, 1.0)]),
        ),
        stream_limiter=stream_limiter or RateLimiter([(1000, 1.0)]),
        strict_errors=settings.amperity_strict_errors if strict_errors is None else strict_errors,
    )
    app.state.amperity = options
    return options


def _app_options(request: Request) -> AmperityOptions:
    """The options of the request's app, made with the defaults on first use."""
    return made_once(
        request, "amperity", lambda: configure(request.app, request.app.state.services)
    )


async def app_options(request: Request) -> AmperityOptions:
    """``_app_options`` as a dependency (async: it never blocks, see api/deps.py)."""
    return _app_options(request)


Options = Annotated[AmperityOptions, Depends(app_options)]


def render_error(request: Request, exc: IngestdError) -> Response:
    """The dialect's error body (``protocol.render``), strict as the request's app says."""
    return render(request, exc, strict=_app_options(request).strict_errors)


def reader(request: Request, options: Options) -> Principal:
    return options.gate.check(request, Permission.READ)


def ingester(request: Request, options: Options) -> Principal:
    return options.gate.check(request, Permission.INGEST)


def streamer(request: Request, options: Options) -> Principal:
    # §2.5: the streaming API takes no api-version.
    return options.gate.check(
        request, Permission.INGEST, versioned=False, limiter=options.stream_limiter
    )


Reader = Annotated[Principal, Depends(reader)]
Ingester = Annotated[Principal, Depends(ingester)]
Streamer = Annotated[Principal, Depends(streamer)]
