"""The Celery mode's dispatch and claim rules on both metadata stores, in one process: what
the dispatcher sends, when it sends again, and that a task delivered twice runs its unit once.
The broker is replaced by a list of sent tasks (what the dispatcher hands to Celery); the
store, the runs and the runner are the real ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from kombu.exceptions import OperationalError

from ingestd.domain.states import UnitState
from ingestd.domain.unit_tasks import UnitTask
from ingestd.executor.dispatcher import Dispatcher
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.test_engine import add_source, write_events

DAY = date(2024, 3, 1)
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[Services]:
    services = make_services(
        tmp_path / "data", database_url, clock=clock, lease_seconds=30, retry_base_seconds=5
    )
    yield services
    services.close()


def _run(svc: Services, days: int = 1) -> tuple[int, list[str]]:
    project_id = add_source(svc)
    files = svc.settings.data_dir / "files" / "acme" / "events"
    for offset in range(days):
        write_events(files / (DAY + timedelta(days=offset)).isoformat() / "a.csv", 20)
    run = svc.runs.start_source_run(
        project_id, ["events"], [DAY + timedelta(days=d) for d in range(days)], trigger="backfill"
    )
    return project_id, [unit.id for unit in svc.runs.get_run(project_id, run.id).units]


def _dispatcher(svc: Services, clock: Clock, sent: list[UnitTask]) -> Dispatcher:
    return Dispatcher(svc.store, sent.append, clock=clock, redispatch_seconds=60)


def test_each_due_unit_is_sent_once_and_again_only_when_its_message_is_lost(
    svc: Services, clock: Clock
) -> None:
    project_id, units = _run(svc, days=3)
    sent: list[UnitTask] = []
    dispatcher = _dispatcher(svc, clock, sent)
    assert dispatcher.dispatch_due() == 3
    assert sorted(task.unit_id for task in sent) == sorted(units)
    assert all(task.project_id == project_id for task in sent)
    assert UnitTask.from_json(sent[0].to_json()) == sent[0]

    # A second dispatcher (another serve) and a second pass: nothing more is sent.
    assert _dispatcher(svc, clock, sent).dispatch_due() == 0
    assert dispatcher.dispatch_due() == 0
    # No worker claimed them for redispatch_seconds: the messages were lost; send again.
    clock.advance(61)
    assert dispatcher.dispatch_due() == 3
    assert len(sent) == 6


def test_a_failed_send_is_retried_on_the_next_pass(svc: Services, clock: Clock) -> None:
    _run(svc)
    attempts: list[UnitTask] = []

    def broker_down(task: UnitTask) -> None:
        attempts.append(task)
        raise OperationalError("connection refused")

    assert (
        Dispatcher(svc.store, broker_down, clock=clock, redispatch_seconds=60).dispatch_due() == 0
    )
    assert len(attempts) == 1
    sent: list[UnitTask] = []
    assert _dispatcher(svc, clock, sent).dispatch_due() == 1  # no redispatch wait


def test_a_task_delivered_twice_runs_its_unit_once(svc: Services, clock: Clock) -> None:
    project_id, (_unit_id,) = _run(svc)
    sent: list[UnitTask] = []
    _dispatcher(svc, clock, sent).dispatch_due()
    (task,) = sent
    units = svc.celery_units("ingestd@test:1")
    units.execute(task)
    units.execute(task)  # redelivered after the unit ended: dropped
    view = svc.runs.get_run(project_id, task.run_id)
    (unit,) = view.units
    assert unit.state is UnitState.SUCCEEDED
    assert unit.attempt == 1
    assert unit.counts.inserted == 20
    assert svc.warehouse.query("SELECT count(*) FROM acme__statsig.events") == [(20,)]
    assert _dispatcher(svc, clock, sent).dispatch_due() == 0  # an ended unit is never sent


def test_a_claimed_unit_is_not_claimed_again_until_its_lease_runs_out(
    svc: Services, clock: Clock
) -> None:
    project_id, (unit_id,) = _run(svc)
    first = svc.runs.claim_if_due(unit_id, "worker-a", 30)
    assert first is not None and first.attempt == 1
    assert svc.runs.claim_if_due(unit_id, "worker-b", 30) is None  # a live lease
    sent: list[UnitTask] = []
    dispatcher = _dispatcher(svc, clock, sent)
    assert dispatcher.dispatch_due() == 0  # held: not due
    clock.advance(31)  # worker-a died: its lease ran out
    assert dispatcher.dispatch_due() == 1  # the claim had cleared the mark: sent at once
    second = svc.runs.claim_if_due(unit_id, "worker-b", 30)
    assert second is not None and second.attempt == 2
    assert not svc.runs.heartbeat(unit_id, "worker-a", 30)  # worker-a lost it
    history = [h.state for h in svc.runs.get_run(project_id, first.run_id).units[0].history]
    assert history[-2:] == ["retrying", "started"]


def test_a_task_that_differs_from_the_stored_unit_is_dropped(svc: Services, clock: Clock) -> None:
    project_id, (_unit_id,) = _run(svc)
    sent: list[UnitTask] = []
    _dispatcher(svc, clock, sent).dispatch_due()
    (task,) = sent
    raw = task.to_json()
    other_project = UnitTask.from_json({**raw, "project_id": project_id + 1})
    other_spec = UnitTask.from_json({**raw, "spec": {**raw["spec"], "day": "2024-03-02"}})
    for stale in (other_project, other_spec):
        svc.celery_units("ingestd@test:1").execute(stale)
    (unit,) = svc.runs.get_run(project_id, task.run_id).units
    assert unit.state is UnitState.ENQUEUED
    assert unit.attempt == 0
