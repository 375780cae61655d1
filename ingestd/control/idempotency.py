"""Idempotency keys on mutations: the first answer is kept, with no expiry; repeats get it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ingestd.store.database import Store
from ingestd.store.schema import IdempotentResponse


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


class Idempotency:
    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, project_id: int, key: str) -> StoredResponse | None:
        with self.store.read() as session:
            row = session.scalar(
                select(IdempotentResponse).where(
                    IdempotentResponse.project_id == project_id, IdempotentResponse.key == key
                )
            )
        return None if row is None else StoredResponse(row.status_code, dict(row.body))

    def save(
        self, project_id: int, key: str, method: str, path: str, status: int, body: dict[str, Any]
    ) -> StoredResponse:
        """Keep the answer; if a concurrent request with the key won, return its answer."""
        try:
            with self.store.write() as session:
                session.add(
                    IdempotentResponse(
                        project_id=project_id,
                        key=key[:255],
                        method=method,
                        path=path[:512],
                        status_code=status,
                        body=body,
                    )
                )
        except IntegrityError:
            first = self.find(project_id, key)
            assert first is not None
            return first
        return StoredResponse(status, body)
