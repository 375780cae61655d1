"""SQL of ``project_file_grants``: the directories granted to each project."""

from __future__ import annotations

from sqlalchemy import delete, select

from ingestd.store.database import Store
from ingestd.store.schema import Project, ProjectFileGrant


def granted_paths(store: Store, project_id: int) -> tuple[str, ...]:
    with store.read() as session:
        rows = session.scalars(
            select(ProjectFileGrant.path)
            .where(ProjectFileGrant.project_id == project_id)
            .order_by(ProjectFileGrant.path)
        )
        return tuple(rows)


def add_grant(store: Store, project_id: int, path: str) -> bool:
    """Record the grant; False when the project had it already."""
    with store.write() as session:
        exists = session.scalar(
            select(ProjectFileGrant.id).where(
                ProjectFileGrant.project_id == project_id, ProjectFileGrant.path == path
            )
        )
        if exists is not None:
            return False
        session.add(ProjectFileGrant(project_id=project_id, path=path))
        return True


def remove_grant(store: Store, project_id: int, path: str) -> bool:
    """Drop the grant; False when the project did not have it."""
    with store.write() as session:
        result = session.execute(
            delete(ProjectFileGrant).where(
                ProjectFileGrant.project_id == project_id, ProjectFileGrant.path == path
            )
        )
        return bool(getattr(result, "rowcount", 0))


def project_names(store: Store) -> dict[int, str]:
    with store.read() as session:
        rows = session.execute(select(Project.id, Project.name).order_by(Project.name))
        return {project_id: name for project_id, name in rows.tuples()}
