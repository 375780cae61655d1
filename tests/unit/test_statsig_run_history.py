"""The Statsig run shape's run-level history (§5 item 13), kept as counts per state, against
its definition: after each unit event, the run's status is computed from every unit's state."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from ingestd.api.statsig import wire
from ingestd.domain.counts import Counts
from ingestd.domain.run_views import HistoryEntry, RunView, UnitView
from ingestd.domain.states import TERMINAL_UNIT_STATES, RunState, UnitState

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _level(states: list[UnitState]) -> str:
    """The rule as §5 item 13 reads, over the whole list of the units' states."""
    if all(s is UnitState.ENQUEUED for s in states):
        return "enqueued"
    if all(s in TERMINAL_UNIT_STATES for s in states):
        if any(s is UnitState.FAILED for s in states):
            return "download_error"
        if all(s is UnitState.CANCELED for s in states):
            return "canceled"
        return "download_complete"
    if any(s in (UnitState.DOWNLOADING, UnitState.LOADING) for s in states):
        return "download_started"
    return "started"


def _expected(run: RunView) -> list[dict[str, str]]:
    current = {u.id: UnitState.ENQUEUED for u in run.units}
    events = sorted(
        ((h.at, u.id, UnitState(h.state)) for u in run.units for h in u.history),
        key=lambda e: e[0],
    )
    out = [{"statusTimestamp": wire.timestamp(run.created_at), "status": "enqueued"}]
    for at, unit_id, state in events:
        current[unit_id] = state
        status = _level(list(current.values()) or [UnitState.ENQUEUED])
        if status != out[-1]["status"]:
            out.append({"statusTimestamp": wire.timestamp(at), "status": status})
    return list(reversed(out))


def _unit(run_id: str, i: int, history: list[HistoryEntry]) -> UnitView:
    return UnitView(
        id=f"{run_id}-u{i}",
        run_id=run_id,
        position=i,
        source_name=f"src-{i % 7}",
        day=date(2026, 1, 1) + timedelta(days=i // 7),
        blob_url=None,
        blob_source_id=None,
        table="events",
        load_key=f"k{i}",
        state=UnitState(history[-1].state) if history else UnitState.ENQUEUED,
        attempt=1,
        max_attempts=4,
        error_code=None,
        error_message=None,
        failure_status=None,
        counts=Counts(),
        created_at=START,
        started_at=None,
        ended_at=None,
        updated_at=START,
        history=history,
    )


def _random_run(rng: random.Random, units: int) -> RunView:
    run_id = f"run-{rng.randrange(10**6)}"
    views = []
    for i in range(units):
        at = START + timedelta(seconds=rng.randrange(1, 50))
        history = []
        for _ in range(rng.randrange(0, 5)):
            at += timedelta(seconds=rng.randrange(1, 30))
            history.append(HistoryEntry(at, rng.choice(list(UnitState)).value, f"u{i}", None))
        views.append(_unit(run_id, i, history))
    sources = sorted({u.source_name for u in views if u.source_name})
    return RunView(
        id=run_id,
        project_id=1,
        trigger="scheduled",
        kind="source",
        state=RunState.RUNNING,
        days=[],
        sources=sources,
        cancel_requested=False,
        request={},
        created_at=START,
        updated_at=START,
        ended_at=None,
        units=views,
    )


@pytest.mark.parametrize("seed", range(40))
def test_run_history_matches_recomputing_every_units_state(seed: int) -> None:
    rng = random.Random(seed)
    run = _random_run(rng, rng.choice([0, 1, 2, 5, 30]))
    assert wire.run(run)["runHistory"] == _expected(run)


def test_a_run_of_every_unit_failing_or_done() -> None:
    run = _random_run(random.Random(1), 0)
    at = START + timedelta(seconds=5)
    run.units = [
        _unit(run.id, 0, [HistoryEntry(at, UnitState.SUCCEEDED.value, "u0", None)]),
        _unit(run.id, 1, [HistoryEntry(at + timedelta(seconds=1), "failed", "u1", None)]),
    ]
    assert [h["status"] for h in wire.run(run)["runHistory"]] == [
        "download_error",
        "started",
        "enqueued",
    ]
