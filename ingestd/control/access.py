"""Projects and API keys: who may do what.

A key belongs to one project and has a kind (DESIGN.md "Interfaces"): ``console`` may do
everything within its project, ``ingest`` may submit ingestion and read, ``read`` may only
read. Keys are shown once; only their SHA-256 is stored, found by a non-secret prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ingestd.domain.clock import Clock, system_clock
from ingestd.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from ingestd.observability import logging as log_context
from ingestd.store import api_keys
from ingestd.store.database import Store
from ingestd.store.projects import ProjectRepository, ProjectView, SqlProjects

__all__ = [
    "Access",
    "KeyIdentity",
    "KeyInfo",
    "KeyKind",
    "Permission",
    "Principal",
    "ProjectView",
    "check_project_name",
    "key_prefix",
]

_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PREFIX_LENGTH = 16
# "Last used" is kept to the minute: a finer record would make every request a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class KeyKind(StrEnum):
    CONSOLE = "console"
    INGEST = "ingest"
    READ = "read"


class Permission(StrEnum):
    READ = "read"
    INGEST = "ingest"
    CONFIGURE = "configure"


_GRANTS = {
    KeyKind.CONSOLE: frozenset(Permission),
    KeyKind.INGEST: frozenset({Permission.READ, Permission.INGEST}),
    KeyKind.READ: frozenset({Permission.READ}),
}


@dataclass(frozen=True)
class Principal:
    project_id: int
    project: str
    kind: KeyKind
    operator: bool = False
    """Authenticated by the data directory's operator token (``ingestd serve`` writes it to
    ``server.json``), not by a key: acts as a console key of the project it named."""

    def require(self, permission: Permission) -> None:
        if permission not in _GRANTS[self.kind]:
            raise Forbidden(
                f"a {self.kind.value} key may not {permission.value}",
                hint="use a key of kind console (or ingest to submit ingestion)",
            )


@dataclass(frozen=True)
class KeyIdentity:
    """Which stored key authenticated a request (its id, never the key), and as whom."""

    key_id: int
    principal: Principal


@dataclass(frozen=True)
class KeyInfo:
    """What an operator may know of a key: never the key itself, nor its hash."""

    prefix: str
    project: str
    kind: KeyKind
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: api_keys.KeyRow) -> KeyInfo:
        return cls(
            row.prefix,
            row.project,
            KeyKind(row.kind),
            row.created_at,
            row.last_used_at,
            row.revoked_at,
        )


def check_project_name(name: str) -> str:
    if not _PROJECT_NAME.match(name):
        raise InvalidInput(
            f"project name {name!r} is not valid",
            hint="use letters, digits, '_', '.', '-' (at most 64 characters)",
        )
    return name


def key_prefix(raw_key: str) -> str:
    """The non-secret part of a key by which it is listed and revoked."""
    return raw_key[:_PREFIX_LENGTH]


def _digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class Access:
    def __init__(self, store: Store, *, clock: Clock = system_clock) -> None:
        self.store = store
        self.projects: ProjectRepository = SqlProjects(store)
        self.clock = clock
        self._operator_token: bytes | None = None

    def accept_operator_token(self, token: str) -> None:
        """Accept ``token`` on the native API as the operator (``authenticate_native``).

        ``ingestd serve`` makes one per start and writes it, mode 0600, to the data
        directory's ``server.json``: whoever can read it can read the secret key and the
        metadata anyway, so it grants nothing that access to the directory does not."""
        if len(token) < 32:
            raise InvalidInput("an operator token needs at least 32 characters")
        self._operator_token = token.encode()

    def authenticate_native(self, raw_key: str | None, project: str | None) -> Principal:
        """The principal of a native API request: the operator token acting in ``project`` (as
        a console key of it), or a key, which must belong to ``project`` when one is named."""
        token = self._operator_token
        if token is not None and raw_key and hmac.compare_digest(raw_key.encode(), token):
            if not project:
                raise InvalidInput(
                    "the operator token acts in a project the request names",
                    hint="send the header X-Ingestd-Project: <project>",
                )
            project_id = self.project_id(project)
            log_context.note_project(project)
            return Principal(project_id, project, KeyKind.CONSOLE, operator=True)
        who = self.authenticate(raw_key)
        if project is not None and project != who.project:
            raise Forbidden(
                f"the key belongs to project {who.project!r}, not {project!r}",
                hint=f"use a key of project {project!r}, or name project {who.project!r}",
            )
        return who

    def ensure_project(self, name: str) -> int:
        return self.projects.ensure_project(check_project_name(name))

    def project_id(self, name: str) -> int:
        found = self.projects.project_id(name)
        if found is None:
            raise NotFound(f"project {name!r} does not exist", hint="create a key for it first")
        return found

    def project_name(self, project_id: int) -> str:
        return self.project(project_id).name

    def project_ids(self) -> list[int]:
        return self.projects.project_ids()

    def project(self, project_id: int) -> ProjectView:
        found = self.projects.project(project_id)
        if found is None:
            raise NotFound(f"project {project_id} does not exist")
        return found

    def list_projects(self) -> list[str]:
        return self.projects.project_names()

    def create_key(self, project: str, kind: KeyKind) -> str:
        """Create a key (and the project if new); returns the key, which is never shown again."""
        return self.add_key(self.ensure_project(project), kind)

    def add_key(self, project_id: int, kind: KeyKind) -> str:
        """A new key of an existing project; returns the key, which is never shown again."""
        raw = f"{kind.value}-{secrets.token_urlsafe(32)}"
        self.projects.add_key(project_id, kind.value, key_prefix(raw), _digest(raw), self.clock())
        return raw

    def authenticate(self, raw_key: str | None) -> Principal:
        """The principal of a key, or ``Unauthenticated`` for a missing, unknown or revoked one."""
        return self.identify(raw_key).principal

    def identify(self, raw_key: str | None) -> KeyIdentity:
        """As ``authenticate``, with the key's id (a dashboard session refers to its key by
        id, so that revoking the key ends the session)."""
        if not raw_key:
            raise Unauthenticated("no API key was sent")
        digest = _digest(raw_key)
        for key in self.projects.key_candidates(key_prefix(raw_key)):
            if hmac.compare_digest(key.key_hash, digest):
                # The request's log lines and access-log line name the project from here on.
                log_context.note_project(key.project)
                now = self.clock()
                if key.last_used_at is None or key.last_used_at <= now - _LAST_USED_RESOLUTION:
                    self.projects.mark_used(key.id, now, resolution=_LAST_USED_RESOLUTION)
                return KeyIdentity(
                    key.id, Principal(key.project_id, key.project, KeyKind(key.kind))
                )
        raise Unauthenticated("the API key is not valid")

    def list_keys(self, project: str | None = None, *, revoked: bool = False) -> list[KeyInfo]:
        """Keys of ``project`` (or of every project), oldest first, without their secrets."""
        project_id = None if project is None else self.project_id(project)
        return [KeyInfo.of(r) for r in self.projects.keys(project_id, revoked=revoked)]

    def revoke_key(self, prefix: str, project: str | None = None) -> KeyInfo:
        """Revoke the one active key whose prefix starts with ``prefix`` (within ``project`` when
        given). A key has nothing of its own hanging on it: OAuth clients and their tokens
        belong to the project and end with ``revoke_keys`` or ``OAuth.revoke_client``."""
        wanted = prefix.strip()[:_PREFIX_LENGTH]
        if not wanted:
            raise InvalidInput(
                "say which key to revoke", hint="give its prefix (ingestd keys list)"
            )
        project_id = None if project is None else self.project_id(project)
        found = self.projects.active_keys_with_prefix(wanted, project_id)
        if not found:
            raise NotFound(
                f"no active key has a prefix starting with {wanted!r}",
                hint="see the prefixes with: ingestd keys list",
            )
        if len(found) > 1:
            names = ", ".join(f"{r.prefix} ({r.project})" for r in found)
            raise InvalidInput(
                f"{wanted!r} is the prefix of {len(found)} active keys: {names}",
                hint="give more of the prefix, or --project",
            )
        now = self.clock()
        self.projects.revoke_key(found[0].id, now)
        return replace(KeyInfo.of(found[0]), revoked_at=now)

    def revoke_keys(self, project: str) -> int:
        """Revoke every key of ``project`` and, in the same transaction, every OAuth client of
        the project (clients are per project, not per key): their secrets stop minting tokens
        and their tokens are deleted, so a revoked project has no credential left."""
        project_id = self.project_id(project)
        return self.projects.revoke_credentials(project_id, self.clock())
