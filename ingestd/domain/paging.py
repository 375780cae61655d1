"""Opaque page cursors: what a client sends back to get the next page, and nothing else.

A cursor is URL-safe base64 of the last sort key of the page it follows. It is opaque to
clients (they only send it back) and checked on the way in: one we did not issue is an
``InvalidInput``, never a server error.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from ingestd.errors import InvalidInput

MAX_PAGE_LIMIT = 500


def _encode(payload: list[object]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, what: str) -> list[object]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, list) or not payload or payload[0] != what:
        raise InvalidInput(
            f"cursor {token[:80]!r} is not one this API returned",
            hint="send back the 'cursor' of the previous page unchanged, or omit it",
        )
    return payload[1:]


@dataclass(frozen=True)
class RunCursor:
    """After the run created at ``created_at`` with id ``run_id`` (newest-first order)."""

    created_at: datetime
    run_id: str

    def encode(self) -> str:
        return _encode(["run", self.created_at.isoformat(), self.run_id])

    @classmethod
    def decode(cls, token: str) -> RunCursor:
        fields = _decode(token, "run")
        try:
            at, run_id = fields
            assert isinstance(at, str) and isinstance(run_id, str)
            when = datetime.fromisoformat(at)
            assert when.tzinfo is not None
            return cls(when, run_id)
        except (AssertionError, ValueError):
            raise InvalidInput(f"cursor {token[:80]!r} is not one this API returned") from None


@dataclass(frozen=True)
class NameCursor:
    """After the item named ``name`` (name order): sources of the status grid."""

    name: str

    def encode(self) -> str:
        return _encode(["name", self.name])

    @classmethod
    def decode(cls, token: str) -> NameCursor:
        fields = _decode(token, "name")
        if len(fields) != 1 or not isinstance(fields[0], str):
            raise InvalidInput(f"cursor {token[:80]!r} is not one this API returned")
        return cls(fields[0])


@dataclass(frozen=True)
class OffsetCursor:
    """After ``offset`` items (for stores that page by offset only: the quarantine)."""

    offset: int

    def encode(self) -> str:
        return _encode(["offset", self.offset])

    @classmethod
    def decode(cls, token: str) -> OffsetCursor:
        fields = _decode(token, "offset")
        if (
            len(fields) != 1
            or not isinstance(fields[0], int)
            or isinstance(fields[0], bool)
            or not 0 <= fields[0] <= 10**9
        ):
            raise InvalidInput(f"cursor {token[:80]!r} is not one this API returned")
        return cls(fields[0])
