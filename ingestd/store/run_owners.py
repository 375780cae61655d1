"""SQL of the run → project map that a destination's layout upgrade needs."""

from __future__ import annotations

from sqlalchemy import select

from ingestd.domain.run_owners import RunOwners
from ingestd.errors import NotFound
from ingestd.store.database import Store
from ingestd.store.schema import Project, Run


def run_owners(store: Store) -> RunOwners:
    """Every run's project name."""
    with store.read() as session:
        rows = session.execute(
            select(Run.id, Project.name).join(Project, Project.id == Run.project_id)
        )
        return RunOwners({str(run_id): str(name) for run_id, name in rows})


def project_name(store: Store, project_id: int) -> str:
    """The name of project ``project_id`` (which exists: callers hold its id from a key)."""
    with store.read() as session:
        name = session.scalar(select(Project.name).where(Project.id == project_id))
    if name is None:
        raise NotFound(f"no project with id {project_id}")
    return str(name)
