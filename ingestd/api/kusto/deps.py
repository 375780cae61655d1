"""What every Kusto route depends on: the caller (a project API key as the bearer token, §3.1)
and the request's client request id."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from ingestd.api.auth import bearer_token
from ingestd.api.deps import ServicesDep
from ingestd.api.kusto.errors import CLIENT_REQUEST_ID
from ingestd.api.kusto.mgmt import Management
from ingestd.control.access import Permission, Principal


def _bearer(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization"))


def caller(request: Request, services: ServicesDep) -> Principal:
    """Any valid key; a management command checks the permission its command needs."""
    return services.access.authenticate(_bearer(request))


# The permission checks and the request id only read what they are given: async, so they
# cost no thread hand-off (api/deps.py). ``caller`` looks the key up: a plain function.
async def reader(who: Annotated[Principal, Depends(caller)]) -> Principal:
    who.require(Permission.READ)
    return who


async def ingester(who: Annotated[Principal, Depends(caller)]) -> Principal:
    who.require(Permission.INGEST)
    return who


Caller = Annotated[Principal, Depends(caller)]
Reader = Annotated[Principal, Depends(reader)]
Ingester = Annotated[Principal, Depends(ingester)]


async def client_request_id(request: Request) -> str:
    """The client's ``x-ms-client-request-id``, or one of ingestd's making."""
    return request.headers.get(CLIENT_REQUEST_ID) or f"ingestd;{uuid.uuid4()}"


ClientRequestId = Annotated[str, Depends(client_request_id)]


async def management(services: ServicesDep) -> Management:
    return Management(
        services.catalog, services.mappings, services.queued_ingestion, services.kusto_signer
    )


ManagementDep = Annotated[Management, Depends(management)]
