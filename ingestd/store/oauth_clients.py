"""SQL of OAuth clients and the bearer tokens minted from them (hashes only, never secrets).

``OAuthRepository`` is what ``control.amperity.oauth`` types against; ``SqlOAuthClients`` keeps
it in the metadata database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, select

from ingestd.store.database import Store
from ingestd.store.schema import AccessToken, OAuthClient, Project


@dataclass(frozen=True)
class ActiveClient:
    """A client that is not revoked, with its secret's hash for the one comparison."""

    project_id: int
    project: str
    kind: str
    secret_hash: str


@dataclass(frozen=True)
class TokenOwner:
    """Whose a stored token is, and until when it works."""

    project_id: int
    project: str
    kind: str
    expires_at: datetime
    client_revoked: bool


class OAuthRepository(Protocol):
    def add_client(
        self, project_id: int, client_id: str, secret_hash: str, kind: str, created_at: datetime
    ) -> None: ...
    def revoke_client(self, client_id: str, at: datetime) -> bool: ...
    def mint_token(
        self,
        client_id: str,
        check: Callable[[ActiveClient], None],
        *,
        token_hash: str,
        expires_at: datetime,
        created_at: datetime,
        purge_expired_before: datetime,
    ) -> bool: ...
    def token_owner(self, token_hash: str) -> TokenOwner | None: ...


class SqlOAuthClients:
    """``OAuthRepository`` in the metadata database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add_client(
        self, project_id: int, client_id: str, secret_hash: str, kind: str, created_at: datetime
    ) -> None:
        with self.store.write() as session:
            session.add(
                OAuthClient(
                    project_id=project_id,
                    client_id=client_id,
                    secret_hash=secret_hash,
                    kind=kind,
                    created_at=created_at,
                )
            )

    def revoke_client(self, client_id: str, at: datetime) -> bool:
        """Revoke the client (kept as it was if revoked already); False if there is none."""
        with self.store.write() as session:
            client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
            if client is None:
                return False
            client.revoked_at = client.revoked_at or at
            return True

    def mint_token(
        self,
        client_id: str,
        check: Callable[[ActiveClient], None],
        *,
        token_hash: str,
        expires_at: datetime,
        created_at: datetime,
        purge_expired_before: datetime,
    ) -> bool:
        """Store a token of the active client ``client_id`` once ``check`` (which raises to
        refuse) accepted it, and delete tokens that expired before ``purge_expired_before``,
        all in one transaction. False when there is no such active client."""
        with self.store.write() as session:
            row = session.execute(
                select(OAuthClient, Project.name)
                .join(Project, Project.id == OAuthClient.project_id)
                .where(OAuthClient.client_id == client_id, OAuthClient.revoked_at.is_(None))
            ).first()
            if row is None:
                return False
            client, project = row.tuple()
            check(ActiveClient(client.project_id, project, client.kind, client.secret_hash))
            session.add(
                AccessToken(
                    client_id=client.id,
                    token_hash=token_hash,
                    expires_at=expires_at,
                    created_at=created_at,
                )
            )
            session.execute(
                delete(AccessToken).where(AccessToken.expires_at < purge_expired_before)
            )
            return True

    def token_owner(self, token_hash: str) -> TokenOwner | None:
        with self.store.read() as session:
            row = session.execute(
                select(AccessToken.expires_at, OAuthClient, Project.name)
                .join(OAuthClient, OAuthClient.id == AccessToken.client_id)
                .join(Project, Project.id == OAuthClient.project_id)
                .where(AccessToken.token_hash == token_hash)
            ).first()
        if row is None:
            return None
        expires_at, client, project = row.tuple()
        return TokenOwner(
            client.project_id, project, client.kind, expires_at, client.revoked_at is not None
        )
