"""OAuth client credentials and the short-lived bearer tokens minted from them.

Amperity clients authenticate with ``POST /api/v0/oauth2/token`` (client-credentials grant,
API-SURFACE §2.1) and send the token as ``Authorization: Bearer``. A client belongs to one project
and has a key kind (console, ingest, read), exactly like an API key; its tokens carry that kind.

Contract:

* ``create_client`` returns the secret once; only its SHA-256 is stored. Token values are
  likewise stored only as a SHA-256.
* ``issue_token`` refuses unknown or revoked clients and wrong secrets alike with
  ``Unauthenticated`` (no hint which part was wrong).
* ``authenticate`` accepts a token until ``expires_at`` (exclusive) and while its client is not
  revoked; ``authenticate_bearer`` also accepts every ingestd API key, so one header serves both.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingestd.control.access import Access, KeyKind, Principal
from ingestd.errors import NotFound, Unauthenticated
from ingestd.observability import logging as log_context
from ingestd.store.database import Store
from ingestd.store.oauth_clients import ActiveClient, OAuthRepository, SqlOAuthClients
from ingestd.store.schema import utcnow

TOKEN_PREFIX = "oat-"
"""Access tokens start with this; API keys start with their kind (``console-`` ...)."""
CLIENT_PREFIX = "oac-"
_KEEP_EXPIRED = timedelta(days=1)
"""Expired tokens are kept this long, so their holders hear "expired" rather than "unknown"."""


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str
    project: str
    kind: KeyKind


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    """Seconds from issue until the token stops working."""
    token_type: str = "Bearer"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class OAuth:
    def __init__(
        self,
        store: Store,
        access: Access,
        *,
        token_seconds: int = 3600,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.clients: OAuthRepository = SqlOAuthClients(store)
        self.access = access
        self.token_seconds = token_seconds
        self.clock = clock

    def create_client(self, project: str, kind: KeyKind) -> ClientCredentials:
        """A new client of ``project`` (created if new); the secret is never shown again."""
        project_id = self.access.ensure_project(project)
        client_id = f"{CLIENT_PREFIX}{secrets.token_hex(12)}"
        secret = secrets.token_urlsafe(32)
        self.clients.add_client(project_id, client_id, _digest(secret), kind.value, self.clock())
        return ClientCredentials(client_id, secret, project, kind)

    def revoke_client(self, client_id: str) -> None:
        """Revoke a client: its secret and every token minted from it stop working at once."""
        if not self.clients.revoke_client(client_id, self.clock()):
            raise NotFound(f"OAuth client {client_id!r} does not exist")

    def issue_token(
        self, client_id: str, client_secret: str, *, tenant: str | None = None
    ) -> IssuedToken:
        """A bearer token for a client's credentials. ``tenant``, when given, must be the
        client's project (``X-Amperity-Tenant`` of the token request)."""
        refused = Unauthenticated("the client credentials are not valid")
        now = self.clock()
        token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"

        def check(client: ActiveClient) -> None:
            if not hmac.compare_digest(client.secret_hash, _digest(client_secret)):
                raise refused
            if tenant is not None and tenant != client.project:
                raise Unauthenticated(f"the client does not belong to tenant {tenant!r}")

        minted = self.clients.mint_token(
            client_id,
            check,
            token_hash=_digest(token),
            expires_at=now + timedelta(seconds=self.token_seconds),
            created_at=now,
            purge_expired_before=now - _KEEP_EXPIRED,
        )
        if not minted:
            raise refused
        return IssuedToken(token, self.token_seconds)

    def authenticate(self, token: str) -> Principal:
        """The principal of a live access token, or ``Unauthenticated``."""
        owner = self.clients.token_owner(_digest(token))
        if owner is None:
            raise Unauthenticated("the access token is not valid")
        if owner.client_revoked:
            raise Unauthenticated("the access token's client was revoked")
        if self.clock() >= owner.expires_at:
            raise Unauthenticated(
                f"the access token expired at {owner.expires_at:%Y-%m-%dT%H:%M:%SZ}",
                hint="request a new one from POST /api/v0/oauth2/token",
            )
        log_context.note_project(owner.project)  # the request's log lines name it from here on
        return Principal(owner.project_id, owner.project, KeyKind(owner.kind))

    def authenticate_bearer(self, raw: str | None) -> Principal:
        """The principal of a bearer credential: an access token or an ingestd API key."""
        if raw and raw.startswith(TOKEN_PREFIX):
            return self.authenticate(raw)
        return self.access.authenticate(raw)
