"""What every dialect's routes depend on: the app's services, as an ``Annotated`` type.

``create_app`` puts the one ``Services`` of the process on ``app.state.services``; routes take
it from there instead of closing over it, so each dialect's router is a module-level value.

Dependencies that only read the request or the app are ``async def``: FastAPI runs a plain
``def`` dependency in its thread pool, a hand-off per dependency per request (measurable CPU
at hundreds of requests a second: docs/performance.md). Those that may block (a key looked up
in the database) stay plain functions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ingestd.services import Services


async def app_services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(app_services)]
