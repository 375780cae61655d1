"""``Idempotency`` over the SQLite idempotency repository: one claim wins, repeats get its
answer, a dead claim is taken over once its lease ran out (by the injected clock)."""

from __future__ import annotations

import pytest

from ingestd.control.access import Access
from ingestd.control.idempotency import (
    Idempotency,
    IdempotencyMismatch,
    IdempotencyPending,
    StoredResponse,
)
from ingestd.store.database import Store
from tests.unit.control.conftest import SteppedClock


def test_one_claim_wins_and_repeats_get_its_answer(store: Store, clock: SteppedClock) -> None:
    project = Access(store).ensure_project("acme")
    other = Access(store).ensure_project("rival")
    keys = Idempotency(store, wait_seconds=0.0, lease_seconds=60, clock=clock)
    assert keys.claim(project, "k", "POST", "/runs").won
    with pytest.raises(IdempotencyPending):
        keys.claim(project, "k", "POST", "/runs")
    with pytest.raises(IdempotencyMismatch, match="first used for POST /runs"):
        keys.claim(project, "k", "DELETE", "/runs")
    assert keys.find(project, "k") is None

    keys.complete(project, "k", StoredResponse(200, {"runID": "r1"}))
    repeat = keys.claim(project, "k", "POST", "/runs")
    assert (repeat.won, repeat.answer) == (False, StoredResponse(200, {"runID": "r1"}))
    assert keys.find(project, "k") == StoredResponse(200, {"runID": "r1"})
    # Keys are per project: another project's same key is its own.
    assert keys.find(other, "k") is None and keys.claim(other, "k", "POST", "/runs").won


def test_a_released_or_stale_claim_lets_the_next_request_run(
    store: Store, clock: SteppedClock
) -> None:
    project = Access(store).ensure_project("acme")
    keys = Idempotency(store, wait_seconds=0.0, lease_seconds=60, clock=clock)
    assert keys.claim(project, "failed", "POST", "/runs").won
    keys.release(project, "failed")
    assert keys.claim(project, "failed", "POST", "/runs").won

    assert keys.claim(project, "died", "POST", "/runs").won
    clock.advance(seconds=59)
    with pytest.raises(IdempotencyPending):
        keys.claim(project, "died", "POST", "/runs")
    clock.advance(seconds=1)
    assert keys.claim(project, "died", "POST", "/runs").won
