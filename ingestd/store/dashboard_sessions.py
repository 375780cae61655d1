"""SQL of ``dashboard_sessions``: create, find (only while the key is active), delete.

A session is found by the SHA-256 of its cookie token, and only while it has not expired and
the API key it was opened with is not revoked: revoking a key ends its sessions at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from ingestd.store.database import Store
from ingestd.store.schema import ApiKey, DashboardSession, Project


@dataclass(frozen=True)
class SessionRow:
    token_hash: str
    key_id: int
    project_id: int
    project: str
    kind: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime


def create(
    store: Store,
    *,
    token_hash: str,
    key_id: int,
    project_id: int,
    kind: str,
    csrf_token: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    with store.write() as session:
        # Expired sessions are removed as new ones open: the table never grows without bound.
        session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= created_at))
        session.add(
            DashboardSession(
                token_hash=token_hash,
                key_id=key_id,
                project_id=project_id,
                kind=kind,
                csrf_token=csrf_token,
                created_at=created_at,
                expires_at=expires_at,
            )
        )


def find_active(store: Store, token_hash: str, now: datetime) -> SessionRow | None:
    """The session, if unexpired and its key is not revoked; None otherwise."""
    query = (
        select(DashboardSession, Project.name)
        .join(ApiKey, ApiKey.id == DashboardSession.key_id)
        .join(Project, Project.id == DashboardSession.project_id)
        .where(
            DashboardSession.token_hash == token_hash,
            DashboardSession.expires_at > now,
            ApiKey.revoked_at.is_(None),
            # The key's project and kind, not only the session's copy, must still match.
            ApiKey.project_id == DashboardSession.project_id,
        )
    )
    with store.read() as session:
        found = session.execute(query).tuples().first()
    if found is None:
        return None
    row, project = found
    return SessionRow(
        row.token_hash,
        row.key_id,
        row.project_id,
        project,
        row.kind,
        row.csrf_token,
        row.created_at,
        row.expires_at,
    )


def delete_one(store: Store, token_hash: str) -> None:
    with store.write() as session:
        session.execute(delete(DashboardSession).where(DashboardSession.token_hash == token_hash))
