"""Idempotency keys on mutations: the first answer is kept, with no expiry; repeats get it.

The key is claimed first: an INSERT of a pending row (no status, no body) that the unique
constraint ``(project_id, key)`` lets exactly one request win, in SQLite and PostgreSQL alike.
The winner runs the request and stores its answer on the row. A request whose work is one
transaction (a run's creation) stores the answer in that same transaction (``Claimed.complete``
with the work's transaction): the work and the answer commit together or not at all, so no crash
can leave a run whose key has no answer. A request that lost the claim
polls (bounded, with backoff) until the answer is there and returns it. If the winner's request
raises, its pending row is deleted so a retry with the key can run. Refused requests (4xx) are
therefore not cached: the caller may fix the request and send it again with the same key. If the
winner's process dies before answering, its pending row is taken over once it is older than
``lease_seconds`` (by the injected clock), so a later request never waits forever.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingestd.errors import Conflict
from ingestd.store.database import Store
from ingestd.store.idempotent_responses import (
    IdempotencyRepository,
    SqlIdempotentResponses,
    StoredResponse,
    Transaction,
)
from ingestd.store.schema import utcnow

__all__ = [
    "Claim",
    "Claimed",
    "Idempotency",
    "IdempotencyMismatch",
    "IdempotencyPending",
    "StoredResponse",
]


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ``won`` (run the request) or the first request's answer."""

    won: bool
    answer: StoredResponse | None


class Claimed:
    """A key this request won: its answer is stored by ``complete``, in the transaction that
    does the request's work when there is one."""

    def __init__(self, idempotency: Idempotency, project_id: int, key: str) -> None:
        self._idempotency = idempotency
        self.project_id = project_id
        self.key = key
        self.completed = False

    def complete(self, transaction: Transaction, answer: StoredResponse) -> None:
        """Store ``answer`` on the pending row within ``transaction`` (it commits with the
        work)."""
        self._idempotency.before_answer()
        self._idempotency.store_answer(transaction, self.project_id, self.key, answer)
        self.completed = True

    def with_run(
        self, answer: Callable[[str], StoredResponse]
    ) -> Callable[[Transaction, str], None]:
        """A ``Runs.create_run`` hook that stores ``answer(run_id)`` as the key's answer, in the
        run's own transaction."""

        def store(transaction: Transaction, run_id: str) -> None:
            self.complete(transaction, answer(run_id))

        return store


class IdempotencyPending(Conflict):
    """A request with the key is still running after the wait; the caller retries later."""

    code = "IDEMPOTENCY_PENDING"


class IdempotencyMismatch(Conflict):
    """The key was used for another method or path."""

    code = "IDEMPOTENCY_MISMATCH"


class Idempotency:
    def __init__(
        self,
        store: Store,
        *,
        wait_seconds: float = 10.0,
        lease_seconds: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        before_answer: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.responses: IdempotencyRepository = SqlIdempotentResponses(store)
        self.before_answer = before_answer
        """Called after a request's work and before its answer is stored, in the same
        transaction: a seam where tests inject a failure (a crash between the two)."""
        self.wait_seconds = wait_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.clock = clock
        self._monotonic = monotonic
        self._sleep = sleep

    def find(self, project_id: int, key: str) -> StoredResponse | None:
        """The stored answer, or None if the key is unknown or its request is still running."""
        return self.responses.answer(project_id, key)

    def claim(self, project_id: int, key: str, method: str, path: str) -> Claim:
        """Claim the key with a pending row; on losing, wait for and return the winner's answer.

        If the winner's claim goes away (its request failed, or its lease ran out), claim again.
        """
        while True:
            if self.responses.claim(project_id, key, method, path, self.clock()):
                return Claim(True, None)
            answer = self._wait(project_id, key, method, path)
            if answer is not None:
                return Claim(False, answer)

    def complete(self, project_id: int, key: str, answer: StoredResponse) -> None:
        """Store the winner's answer on its pending row, in a transaction of its own (for work
        that is not one transaction; see ``Claimed`` for work that is)."""
        self.before_answer()
        self.responses.save_answer(project_id, key, answer)

    def store_answer(
        self, transaction: Transaction, project_id: int, key: str, answer: StoredResponse
    ) -> None:
        """Store the answer within ``transaction``, that of the request's work."""
        self.responses.save_answer(project_id, key, answer, within=transaction)

    def once(
        self,
        project_id: int,
        key: str | None,
        method: str,
        path: str,
        produce: Callable[[Claimed | None], StoredResponse],
    ) -> StoredResponse:
        """The answer of a request sent with an Idempotency-Key: the first request's, stored;
        a repeat gets it and changes nothing. Without a key, ``produce``'s answer as it is.

        ``produce`` gets the claimed key to store its answer in its own transaction (a run's);
        if it does not, the answer is stored after it. A request that fails releases its
        claim, so a retry with the key may run."""
        if not key:
            return produce(None)
        # Claim first (unique constraint): one request runs, the others get its answer.
        claim = self.claim(project_id, key, method, path)
        if claim.answer is not None:
            return claim.answer
        claimed = Claimed(self, project_id, key)
        try:
            answer = produce(claimed)
            if not claimed.completed:
                self.complete(project_id, key, answer)
        except BaseException:
            self.release(project_id, key)
            raise
        return answer

    def release(self, project_id: int, key: str) -> None:
        """Drop a pending claim whose request failed, so a retry with the key can run."""
        self.responses.release(project_id, key)

    def _wait(self, project_id: int, key: str, method: str, path: str) -> StoredResponse | None:
        """Poll for the first request's answer; None if its claim was released (it failed) or
        was older than the lease and is now deleted (its process died)."""
        deadline = self._monotonic() + self.wait_seconds
        pause = 0.01
        while True:
            claim = self.responses.key_claim(project_id, key)
            if claim is None:
                return None
            if not claim.is_for(method, path):
                raise IdempotencyMismatch(
                    f"Idempotency-Key was first used for {claim.method} {claim.path}, "
                    f"not {method} {path}",
                    hint="use a new key for a different request",
                )
            if claim.answer is not None:
                return claim.answer
            stale = claim.created_at + self.lease <= self.clock()
            if stale:
                self.responses.drop_pending(claim.id)
                return None
            if self._monotonic() >= deadline:
                raise IdempotencyPending(
                    f"a request with this Idempotency-Key is still running after "
                    f"{self.wait_seconds:g} s",
                    hint="retry the request later with the same key",
                )
            self._sleep(pause)
            pause = min(pause * 2, 0.5)
