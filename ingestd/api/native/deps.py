"""What every native route depends on: the services and the caller, as ``Annotated`` types.

The key is sent as ``Authorization: Bearer <key>`` (``STATSIG-API-KEY`` is accepted too, so
one key works in every header as DESIGN "Security" says). The native API alone also accepts
the operator token of ``server.json`` as the bearer, with ``X-Ingestd-Project`` naming the
project it acts in (``Access.authenticate_native``). Each dependency both authenticates
and checks the key's kind, so a route's signature states what it needs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ingestd.api.native import limits
from ingestd.control.access import Permission, Principal
from ingestd.control.services import Services

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ingestd key",
    description="An ingestd API key of the project: `Authorization: Bearer <key>`",
)


# Reading the app, the headers: async, no thread hand-off (api/deps.py). The principals
# below look keys up in the database: plain functions.
async def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]


async def sent_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    statsig_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> str | None:
    """The key of the request: the bearer token, else the Statsig header."""
    if credentials is not None and credentials.credentials.strip():
        return credentials.credentials.strip()
    return statsig_api_key


SentKey = Annotated[str | None, Depends(sent_key)]


async def sent_project(
    x_ingestd_project: Annotated[
        str | None,
        Header(
            description="The project the request acts in: required with the operator token "
            "(server.json), optional with a key (which must then belong to it)"
        ),
    ] = None,
) -> str | None:
    return x_ingestd_project.strip() if x_ingestd_project else None


SentProject = Annotated[str | None, Depends(sent_project)]


def reader(request: Request, svc: ServicesDep, key: SentKey, project: SentProject) -> Principal:
    who = svc.access.authenticate_native(key, project)
    limits.count(request, svc, who)
    return who


def ingester(request: Request, svc: ServicesDep, key: SentKey, project: SentProject) -> Principal:
    who = svc.access.authenticate_native(key, project)
    limits.count(request, svc, who)
    who.require(Permission.INGEST)
    return who


def configurer(request: Request, svc: ServicesDep, key: SentKey, project: SentProject) -> Principal:
    who = svc.access.authenticate_native(key, project)
    limits.count(request, svc, who)
    who.require(Permission.CONFIGURE)
    return who


Reader = Annotated[Principal, Depends(reader)]
"""Any key of the project (read, ingest, console)."""
Ingester = Annotated[Principal, Depends(ingester)]
"""An ingest or console key."""
Configurer = Annotated[Principal, Depends(configurer)]
"""A console key."""
