"""Dashboard sign-in sessions: a key exchanged once for an opaque, expiring session token.

Design (docs/dashboard.md "Sessions"): the browser holds a random token (256 bits) in an
HttpOnly cookie; the metadata keeps only its SHA-256, the id of the key it was opened with,
the project, the key's kind, a per-session CSRF token and the expiry. The key is never stored
in the session or the cookie. Each request resumes the session by its token and re-checks that
the key is not revoked, so revoking a key signs its browsers out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingestd.control.access import Access, KeyKind, Principal
from ingestd.domain.clock import Clock, system_clock
from ingestd.errors import Forbidden, Unauthenticated
from ingestd.store import dashboard_sessions
from ingestd.store.database import Store


@dataclass(frozen=True)
class DashboardSession:
    """A resumed session: who it acts as, and the CSRF token its forms must carry."""

    principal: Principal
    csrf_token: str
    expires_at: datetime

    def check_csrf(self, sent: str | None) -> None:
        """``Forbidden`` unless ``sent`` is this session's CSRF token (compared in constant
        time, so its value cannot be guessed a character at a time)."""
        if not sent or not hmac.compare_digest(sent.encode(), self.csrf_token.encode()):
            raise Forbidden(
                "the form's CSRF token is missing or does not match this session",
                hint="reload the page and submit the form again",
            )


@dataclass(frozen=True)
class OpenedSession:
    token: str
    """The cookie value: shown to the browser once, only its hash is stored."""
    session: DashboardSession


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DashboardSessions:
    def __init__(
        self, store: Store, access: Access, *, lifetime: timedelta, clock: Clock = system_clock
    ) -> None:
        self.store = store
        self.access = access
        self.lifetime = lifetime
        self.clock = clock

    def sign_in(self, raw_key: str | None) -> OpenedSession:
        """A new session for a valid key; the same ``Unauthenticated`` for an unknown and a
        revoked key (a caller learns nothing about which keys once existed)."""
        try:
            identity = self.access.identify((raw_key or "").strip() or None)
        except Unauthenticated:
            raise Unauthenticated(
                "that key is not a valid ingestd API key",
                hint="paste a key made with: ingestd keys create --project P --kind console",
            ) from None
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.lifetime
        who = identity.principal
        dashboard_sessions.create(
            self.store,
            token_hash=_digest(token),
            key_id=identity.key_id,
            project_id=who.project_id,
            kind=who.kind.value,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
        )
        return OpenedSession(token, DashboardSession(who, csrf, expires))

    def resume(self, token: str | None) -> DashboardSession:
        """The session of a cookie token; ``Unauthenticated`` when there is none, it expired,
        was signed out, or its key was revoked."""
        row = (
            dashboard_sessions.find_active(self.store, _digest(token), self.clock())
            if token
            else None
        )
        if row is None:
            raise Unauthenticated("you are not signed in (or the session ended)")
        return DashboardSession(
            Principal(row.project_id, row.project, KeyKind(row.kind)),
            row.csrf_token,
            row.expires_at,
        )

    def sign_out(self, token: str | None) -> None:
        if token:
            dashboard_sessions.delete_one(self.store, _digest(token))
