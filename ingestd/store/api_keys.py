"""SQL of ``api_keys``: listing keys by their non-secret prefix, marking use, revoking one.

The stored prefix is the first characters of the key (its kind and a few random characters):
it identifies a key to an operator and is never enough to use it. The hash never leaves here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update

from ingestd.store.database import Store
from ingestd.store.schema import ApiKey, Project


@dataclass(frozen=True)
class KeyRow:
    """A key as an operator may see it: everything but the secret and its hash."""

    id: int
    project: str
    kind: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _rows(store: Store, *where: ColumnElement[bool]) -> list[KeyRow]:
    query = (
        select(ApiKey, Project.name)
        .join(Project, Project.id == ApiKey.project_id)
        .where(*where)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    with store.read() as session:
        return [
            KeyRow(
                key.id,
                project,
                key.kind,
                key.prefix,
                key.created_at,
                key.last_used_at,
                key.revoked_at,
            )
            for key, project in session.execute(query).tuples()
        ]


def list_keys(store: Store, project_id: int | None, *, revoked: bool) -> list[KeyRow]:
    """Keys of one project (or of all), oldest first; revoked ones only when asked."""
    where: list[ColumnElement[bool]] = []
    if project_id is not None:
        where.append(ApiKey.project_id == project_id)
    if not revoked:
        where.append(ApiKey.revoked_at.is_(None))
    return _rows(store, *where)


def active_keys_with_prefix(store: Store, prefix: str, project_id: int | None) -> list[KeyRow]:
    """Active keys whose stored prefix starts with ``prefix``, compared case-sensitively (keys
    are mixed-case; SQLite's LIKE is not), within one project when given."""
    where: list[ColumnElement[bool]] = [
        ApiKey.revoked_at.is_(None),
        func.substr(ApiKey.prefix, 1, len(prefix)) == prefix,
    ]
    if project_id is not None:
        where.append(ApiKey.project_id == project_id)
    return _rows(store, *where)


def revoke_key(store: Store, key_id: int, at: datetime) -> bool:
    """Revoke one key; False when it was revoked already (by a concurrent call)."""
    with store.write() as session:
        result = session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return bool(getattr(result, "rowcount", 0))


def mark_used(store: Store, key_id: int, at: datetime, *, resolution: timedelta) -> None:
    """Record that the key was used at ``at``, at most once per ``resolution``: authentication
    runs on every request and must not turn each into a write."""
    with store.write() as session:
        session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at <= at - resolution),
            )
            .values(last_used_at=at)
        )
