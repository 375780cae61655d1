"""``Runs`` deciding over the SQLite run repositories (``store.runs``, ``store.unit_states``):
the state machine's moves, leases and their expiry, retries, cancels, and a run created with
work that commits with it or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.control.access import Access
from ingestd.control.catalog import Catalog
from ingestd.control.runs import NewUnit, Runs
from ingestd.dataplane.contract import Counts, FileResult, LoadResult
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.retry import RetryPolicy
from ingestd.domain.states import RunState, UnitState
from ingestd.domain.unit_specs import FileUnitSpec
from ingestd.errors import (
    ConnectionFailure,
    FailureClass,
    IllegalTransition,
    InvalidInput,
    NotFound,
    QueryError,
)
from ingestd.store.database import Store
from ingestd.store.idempotent_responses import SqlIdempotentResponses, StoredResponse
from ingestd.store.transaction import Transaction
from tests.unit.control.conftest import SteppedClock

LEASE = 30.0


@pytest.fixture
def project(store: Store) -> int:
    return Access(store).ensure_project("acme")


@pytest.fixture
def runs(store: Store, tmp_path: Path, clock: SteppedClock) -> Runs:
    catalog = Catalog(store, lambda _project: ProjectFiles(project="acme", roots=(tmp_path,)))
    return Runs(store, catalog, RetryPolicy(max_attempts=2, base_seconds=2.0), clock=clock)


def _units(*names: str) -> list[NewUnit]:
    return [
        NewUnit(
            load_key=f"file:{n}",
            spec=FileUnitSpec(table="shop.orders", inputs=(n,), input_names=()),
        )
        for n in names
    ]


def _run(runs: Runs, project: int, *names: str, key: str | None = None) -> str:
    made = runs.create_run(
        project, kind="file", trigger="api", units=_units(*names), idempotency_key=key
    )
    return made.id


def test_units_are_claimed_oldest_first_once_each_and_end_their_run(
    runs: Runs, project: int
) -> None:
    run_id = _run(runs, project, "a.csv", "b.csv")
    first = runs.claim_next("w1", LEASE)
    second = runs.claim_next("w2", LEASE)
    assert first is not None and second is not None
    assert runs.claim_next("w3", LEASE) is None  # both held, neither lease run out
    view = runs.get_run(project, run_id)
    assert [u.id for u in view.units] == [first.unit_id, second.unit_id]
    assert (first.attempt, first.project) == (1, "acme")
    assert [u.state for u in view.units] == [UnitState.STARTED, UnitState.STARTED]
    assert view.state is RunState.RUNNING

    files = [FileResult("a.csv", Counts(read=3, inserted=2, errors=1))]
    runs.succeed(
        first.unit_id, "w1", LoadResult("file:a.csv", files, Counts(3, 2, 0, 0, 1), ""), "ok"
    )
    with pytest.raises(IllegalTransition, match="not held by worker w1"):
        runs.skip(second.unit_id, "w1", "not mine")
    runs.skip(second.unit_id, "w2", "nothing to load")

    view = runs.get_run(project, run_id)
    done = view.units[0]
    assert (done.state, done.counts, done.error_code) == (
        UnitState.SUCCEEDED,
        Counts(3, 2, 0, 0, 1),
        None,
    )
    assert [(f.name, f.counts.errors) for f in done.files] == [("a.csv", 1)]
    assert view.units[1].state is UnitState.SKIPPED
    assert view.state is RunState.SUCCEEDED and view.ended_at is not None
    assert [h.state for h in view.history] == ["enqueued", "running", "succeeded"]
    assert [h.message for h in done.history] == [None, "attempt 1 by w1", "ok"]


def test_a_lease_that_runs_out_is_claimed_again_until_the_attempts_are_used(
    runs: Runs, project: int, clock: SteppedClock
) -> None:
    run_id = _run(runs, project, "a.csv")
    first = runs.claim_next("w1", LEASE)
    assert first is not None
    clock.advance(seconds=LEASE - 1)
    assert runs.heartbeat(first.unit_id, "w1", LEASE) is True  # the lease is extended
    assert runs.heartbeat(first.unit_id, "w2", LEASE) is False  # not w2's
    clock.advance(seconds=LEASE - 1)
    assert runs.claim_if_due(first.unit_id, "w2", LEASE) is None  # still w1's

    clock.advance(seconds=2)  # w1 died: its lease has run out
    again = runs.claim_if_due(first.unit_id, "w2", LEASE)
    assert again is not None and again.attempt == 2
    assert runs.heartbeat(first.unit_id, "w1", LEASE) is False
    unit = runs.get_run(project, run_id).units[0]
    assert [h.state for h in unit.history] == ["enqueued", "started", "retrying", "started"]

    clock.advance(seconds=LEASE + 1)  # w2 died too, and no attempt is left
    assert runs.claim_next("w3", LEASE) is None
    view = runs.get_run(project, run_id)
    unit = view.units[0]
    assert (unit.state, unit.failure_status, unit.error_code) == (
        UnitState.FAILED,
        FailureClass.EXHAUSTED,
        "INTERNAL_ERROR",
    )
    assert unit.history[-1].message == "no attempts left"
    assert view.state is RunState.FAILED and view.ended_at is not None


def test_a_transient_failure_waits_its_backoff_and_a_permanent_one_ends_the_unit(
    runs: Runs, project: int, clock: SteppedClock
) -> None:
    run_id = _run(runs, project, "a.csv", "b.csv")
    a = runs.claim_next("w1", LEASE)
    b = runs.claim_next("w1", LEASE)
    assert a is not None and b is not None

    delay = runs.fail(a.unit_id, "w1", ConnectionFailure("the bucket timed out"))
    assert delay is not None and 1.0 <= delay <= 2.0  # attempt 1 of base 2 s, with jitter
    assert runs.fail(b.unit_id, "w1", QueryError("no such column")) is None
    view = runs.get_run(project, run_id)
    retrying, failed = view.units
    assert (retrying.state, retrying.failure_status) == (UnitState.RETRYING, FailureClass.TRANSIENT)
    assert retrying.error_message == "the bucket timed out"
    assert (failed.state, failed.failure_status) == (UnitState.FAILED, FailureClass.PERMANENT)
    assert view.state is RunState.RUNNING

    assert runs.claim_if_due(a.unit_id, "w1", LEASE) is None  # its backoff has not passed
    clock.advance(seconds=2.1)
    again = runs.claim_if_due(a.unit_id, "w1", LEASE)
    assert again is not None and again.attempt == 2
    assert runs.fail(a.unit_id, "w1", ConnectionFailure("timed out again")) is None
    unit = runs.get_run(project, run_id).units[0]
    assert (unit.state, unit.failure_status) == (UnitState.FAILED, FailureClass.EXHAUSTED)


def test_cancel_ends_waiting_units_at_once_and_asks_running_ones_to_stop(
    runs: Runs, project: int
) -> None:
    run_id = _run(runs, project, "a.csv", "b.csv")
    running = runs.claim_next("w1", LEASE)
    assert running is not None
    view = runs.cancel_run(project, run_id)
    assert view.cancel_requested
    assert [u.state for u in view.units] == [UnitState.STARTED, UnitState.CANCELED]
    assert runs.heartbeat(running.unit_id, "w1", LEASE) is False  # the worker stops
    runs.finish_canceled(running.unit_id, "w1")
    view = runs.get_run(project, run_id)
    assert [u.state for u in view.units] == [UnitState.CANCELED, UnitState.CANCELED]
    assert view.state is RunState.CANCELED and view.ended_at is not None


def test_cancel_of_one_unit(runs: Runs, project: int, store: Store) -> None:
    run_id = _run(runs, project, "a.csv", "b.csv")
    running = runs.claim_next("w1", LEASE)
    assert running is not None
    waiting = runs.get_run(project, run_id).units[1].id

    asked = runs.cancel_unit(project, running.unit_id)
    assert (
        asked.state is UnitState.STARTED and runs.heartbeat(running.unit_id, "w1", LEASE) is False
    )
    assert runs.cancel_unit(project, waiting).state is UnitState.CANCELED
    with pytest.raises(IllegalTransition, match="has already ended"):
        runs.cancel_unit(project, waiting)
    rival = Access(store).ensure_project("rival")
    with pytest.raises(NotFound):
        runs.cancel_unit(rival, running.unit_id)
    with pytest.raises(NotFound):
        runs.cancel_run(rival, run_id)
    unit = runs.get_run(project, run_id).units[0]
    assert unit.history[-1].state == "started" and unit.history[-1].message == "cancel requested"


def test_a_repeated_idempotency_key_returns_the_first_run(runs: Runs, project: int) -> None:
    first = _run(runs, project, "a.csv", key="k1")
    assert _run(runs, project, "b.csv", key="k1") == first
    found = runs.find_by_idempotency_key(project, "k1")
    assert found is not None and [u.load_key for u in found.units] == ["file:a.csv"]
    assert runs.find_by_idempotency_key(project, "k2") is None


def test_work_handed_the_run_transaction_commits_with_the_run_or_not_at_all(
    runs: Runs, project: int, store: Store
) -> None:
    responses = SqlIdempotentResponses(store)
    for key in ("kept", "dropped"):
        assert responses.claim(project, key, "POST", "/runs", runs.clock())

    def answer(transaction: Transaction, run_id: str) -> None:
        responses.save_answer(
            project, "kept", StoredResponse(200, {"runID": run_id}), within=transaction
        )

    run = runs.create_run(project, kind="file", trigger="api", units=_units("a.csv"), then=answer)
    assert responses.answer(project, "kept") == StoredResponse(200, {"runID": run.id})

    def fails(transaction: Transaction, run_id: str) -> None:
        responses.save_answer(
            project, "dropped", StoredResponse(200, {"runID": run_id}), within=transaction
        )
        raise InvalidInput("refused after the run was written")

    with pytest.raises(InvalidInput):
        runs.create_run(
            project,
            kind="file",
            trigger="api",
            units=_units("b.csv"),
            then=fails,
            idempotency_key="x",
        )
    assert responses.answer(project, "dropped") is None
    assert runs.find_by_idempotency_key(project, "x") is None
    assert runs.list_runs(project)[1] == 1


def test_a_run_is_found_by_the_start_of_its_id(runs: Runs, project: int) -> None:
    run_id = _run(runs, project, "a.csv")
    assert runs.resolve_run_id(project, run_id[:8].upper()) == run_id
    with pytest.raises(NotFound):
        runs.resolve_run_id(project, "zzzz")
    with pytest.raises(NotFound):
        runs.get_run(project, "no-such-run")


def test_a_run_without_units_has_ended_when_it_is_created(runs: Runs, project: int) -> None:
    view = runs.create_run(project, kind="file", trigger="api", units=[])
    assert view.state is RunState.SUCCEEDED and view.ended_at == view.created_at
