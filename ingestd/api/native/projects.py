"""``/ingestd/v1/projects``: the caller's own project.

A key belongs to one project, so a key lists exactly one project and any other name is not
found. Creating a project is an operator's action on the server (``ingestd keys create
--project P``), never an API call: a key cannot mint a tenant (docs/native-api.md).
"""

from __future__ import annotations

from fastapi import APIRouter

from ingestd.api.native.deps import Reader, ServicesDep
from ingestd.api.native.errors import NativeRoute, responses
from ingestd.api.native.schemas import Project, ProjectList
from ingestd.errors import NotFound

router = APIRouter(route_class=NativeRoute, tags=["projects"])


@router.get("/projects", responses=responses(400, 401))
def list_projects(who: Reader, svc: ServicesDep) -> ProjectList:
    """The projects the key may see: its own."""
    return ProjectList(data=[Project.of(svc.access.project(who.project_id))])


@router.get("/projects/{name}", responses=responses(400, 401, 404))
def get_project(name: str, who: Reader, svc: ServicesDep) -> Project:
    if name != who.project:
        raise NotFound(f"project {name!r} does not exist", hint="a key sees only its project")
    return Project.of(svc.access.project(who.project_id))
