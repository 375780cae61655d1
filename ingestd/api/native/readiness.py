"""``/ingestd/v1/readiness``: whether this process can serve (both stores answer).

No key: like ``/healthz`` it shows no project's data, only each check's name and error code.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ingestd.api.native.deps import ServicesDep
from ingestd.api.native.errors import NativeRoute
from ingestd.api.native.schemas import ReadinessOut

router = APIRouter(route_class=NativeRoute, tags=["readiness"])


@router.get(
    "/readiness",
    response_model=ReadinessOut,
    responses={503: {"model": ReadinessOut, "description": "A store does not answer"}},
)
def readiness(svc: ServicesDep) -> JSONResponse:
    report = ReadinessOut.of(svc.readiness.report())
    status = 200 if report.status == "ready" else 503
    return JSONResponse(report.model_dump(mode="json"), status)
