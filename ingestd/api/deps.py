"""What every dialect's routes depend on: the app's services, as an ``Annotated`` type.

``create_app`` puts the one ``Services`` of the process on ``app.state.services``; routes take
it from there instead of closing over it, so each dialect's router is a module-level value.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ingestd.services import Services


def app_services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(app_services)]
