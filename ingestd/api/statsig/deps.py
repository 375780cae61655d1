"""What every Statsig route depends on: the caller's principal, checked as §1.1 says.

Each dependency checks ``STATSIG-API-VERSION``, authenticates ``STATSIG-API-KEY``, requires
the permission its name says and counts a mutation against the project's limits (§1.1: 100
per 10 s, 900 per 15 min, settings ``statsig_mutations_per_*``). The limits' windows live in
this process's memory, one set per app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ingestd.api.app_state import made_once
from ingestd.api.deps import ServicesDep
from ingestd.api.rate_limit import RateLimiter
from ingestd.control.access import Permission, Principal
from ingestd.errors import InvalidInput
from ingestd.services import Services

API_VERSION = "20240601"


@dataclass(frozen=True)
class StatsigLimits:
    mutations: RateLimiter
    """Every non-GET request of a project."""
    ready_calls: RateLimiter
    """§1.4 T: mark_data_ready_dwh once per 2 h per project and type."""


async def limits(request: Request, services: ServicesDep) -> StatsigLimits:
    """The app's limits, made on its first Statsig request (async: it never blocks, see
    api/deps.py)."""
    settings = services.settings
    return made_once(
        request,
        "statsig_limits",
        lambda: StatsigLimits(
            mutations=RateLimiter(
                [
                    (settings.statsig_mutations_per_10s, 10.0),
                    (settings.statsig_mutations_per_15m, 900.0),
                ]
            ),
            ready_calls=RateLimiter([(1, 7200.0)]),
        ),
    )


Limits = Annotated[StatsigLimits, Depends(limits)]


def _principal(
    request: Request, services: Services, found: StatsigLimits, permission: Permission
) -> Principal:
    version = request.headers.get("statsig-api-version")
    if version is not None and version != API_VERSION:
        raise InvalidInput(f"STATSIG-API-VERSION {version!r} is not supported; use {API_VERSION}")
    who = services.access.authenticate(request.headers.get("statsig-api-key"))
    who.require(permission)
    if request.method != "GET":
        found.mutations.hit(f"project:{who.project_id}")
    return who


def reader(request: Request, services: ServicesDep, found: Limits) -> Principal:
    return _principal(request, services, found, Permission.READ)


def ingester(request: Request, services: ServicesDep, found: Limits) -> Principal:
    return _principal(request, services, found, Permission.INGEST)


def configurer(request: Request, services: ServicesDep, found: Limits) -> Principal:
    return _principal(request, services, found, Permission.CONFIGURE)


Reader = Annotated[Principal, Depends(reader)]
"""Any key of the project."""
Ingester = Annotated[Principal, Depends(ingester)]
"""An ingest or console key."""
Configurer = Annotated[Principal, Depends(configurer)]
"""A console key."""
