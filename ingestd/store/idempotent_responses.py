"""SQL of idempotency keys: a claim row per (project, key), and the first answer on it.

``IdempotencyRepository`` is what ``control.idempotency`` types against;
``SqlIdempotentResponses`` keeps it in the metadata database. Keys and paths are cut to the
columns' widths here, so callers compare and look up what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ingestd.store.database import Store
from ingestd.store.schema import IdempotentResponse
from ingestd.store.transaction import Transaction

__all__ = [
    "IdempotencyRepository",
    "KeyClaim",
    "SqlIdempotentResponses",
    "StoredResponse",
    "Transaction",  # an answer that must commit with a run is saved within the run's
]

_KEY_WIDTH = 255
_PATH_WIDTH = 512


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class KeyClaim:
    """The row of a claimed key: the request that claimed it and, once done, its answer."""

    id: int
    method: str
    path: str
    answer: StoredResponse | None
    created_at: datetime

    def is_for(self, method: str, path: str) -> bool:
        """Whether the claim was made for this request (its path as far as it is stored)."""
        return self.method == method and self.path == path[:_PATH_WIDTH]


class IdempotencyRepository(Protocol):
    def answer(self, project_id: int, key: str) -> StoredResponse | None: ...
    def claim(
        self, project_id: int, key: str, method: str, path: str, created_at: datetime
    ) -> bool: ...
    def key_claim(self, project_id: int, key: str) -> KeyClaim | None: ...
    def save_answer(
        self,
        project_id: int,
        key: str,
        answer: StoredResponse,
        *,
        within: Transaction | None = None,
    ) -> None: ...
    def release(self, project_id: int, key: str) -> None: ...
    def drop_pending(self, claim_id: int) -> None: ...


class SqlIdempotentResponses:
    """``IdempotencyRepository`` in the metadata database; the unique constraint on
    ``(project_id, key)`` lets exactly one claim win, in SQLite and PostgreSQL alike."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def answer(self, project_id: int, key: str) -> StoredResponse | None:
        """The stored answer; None if the key is unknown or its request still runs."""
        found = self.key_claim(project_id, key)
        return None if found is None else found.answer

    def claim(
        self, project_id: int, key: str, method: str, path: str, created_at: datetime
    ) -> bool:
        """Insert a pending row for the key; False when another request holds it."""
        try:
            with self.store.write() as session:
                session.add(
                    IdempotentResponse(
                        project_id=project_id,
                        key=key[:_KEY_WIDTH],
                        method=method,
                        path=path[:_PATH_WIDTH],
                        status_code=None,
                        body=None,
                        created_at=created_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def key_claim(self, project_id: int, key: str) -> KeyClaim | None:
        with self.store.read() as session:
            row = session.scalar(
                select(IdempotentResponse).where(
                    IdempotentResponse.project_id == project_id,
                    IdempotentResponse.key == key[:_KEY_WIDTH],
                )
            )
            if row is None:
                return None
            answer = None
            if row.status_code is not None and row.body is not None:
                answer = StoredResponse(row.status_code, dict(row.body))
            return KeyClaim(row.id, row.method, row.path, answer, row.created_at)

    def save_answer(
        self,
        project_id: int,
        key: str,
        answer: StoredResponse,
        *,
        within: Transaction | None = None,
    ) -> None:
        """Store ``answer`` on the key's row: in ``within`` (it commits with that work), or in
        a transaction of its own."""
        statement = (
            update(IdempotentResponse)
            .where(
                IdempotentResponse.project_id == project_id,
                IdempotentResponse.key == key[:_KEY_WIDTH],
            )
            .values(status_code=answer.status_code, body=answer.body)
        )
        if within is not None:
            within.session.execute(statement)
            return
        with self.store.write() as session:
            session.execute(statement)

    def release(self, project_id: int, key: str) -> None:
        """Delete the key's row if it is still pending."""
        with self.store.write() as session:
            session.execute(
                delete(IdempotentResponse).where(
                    IdempotentResponse.project_id == project_id,
                    IdempotentResponse.key == key[:_KEY_WIDTH],
                    IdempotentResponse.status_code.is_(None),
                )
            )

    def drop_pending(self, claim_id: int) -> None:
        """Delete claim row ``claim_id`` if it is still pending."""
        with self.store.write() as session:
            session.execute(
                delete(IdempotentResponse).where(
                    IdempotentResponse.id == claim_id, IdempotentResponse.status_code.is_(None)
                )
            )
