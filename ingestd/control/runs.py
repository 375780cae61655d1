"""Runs and units: creating them, moving them through the state machine, reading them back.

Every state change goes through ``_transition``: it checks the move against the one state
machine (``domain.states``), appends to the history and re-derives the run's state from its
units. Workers claim units with a conditional update plus a lease, so a unit never runs twice at
once, and a unit whose worker died is picked up again once its lease runs out.

This module decides; ``store.runs`` and ``store.unit_states`` read and write. A decision that
spans several writes (a claim, a failure, a cancel) runs in one ``UnitMoves`` transaction, which
also holds the row locks (a unit FOR UPDATE while its worker moves it, its run FOR NO KEY UPDATE
while the run's state is re-derived).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ingestd.control.catalog import Catalog
from ingestd.control.run_views import FileView, RunView, UnitView
from ingestd.dataplane.contract import LoadResult
from ingestd.domain.clock import Ascending, Clock, system_clock
from ingestd.domain.origins import RunOrigin
from ingestd.domain.retry import RetryPolicy
from ingestd.domain.states import (
    ACTIVE_UNIT_STATES,
    TERMINAL_UNIT_STATES,
    UnitState,
    check_transition,
    derive_run_state,
)
from ingestd.domain.unit_specs import (
    BlobUnitSpec,
    SourceDayUnitSpec,
    StreamBatchUnitSpec,
    UnitRecord,
    UnitSpec,
)
from ingestd.errors import FailureClass, IllegalTransition, InvalidInput, NotFound, UnitError
from ingestd.store.database import Store
from ingestd.store.runs import NewRun, PlannedUnit, RunRepository, SqlRuns
from ingestd.store.schedules import ScheduledSource, SqlSchedules
from ingestd.store.transaction import Transaction
from ingestd.store.unit_dispatch import due_unit, due_units
from ingestd.store.unit_records import unit_record
from ingestd.store.unit_states import UnitMoves, UnitStatus

MAX_DAYS_PER_RUN = 366


@dataclass(frozen=True)
class Claim:
    unit_id: str
    run_id: str
    project_id: int
    attempt: int
    project: str | None = None
    """The project's name (for log lines)."""


@dataclass(frozen=True)
class NewUnit:
    """A unit to create inside a run: what it loads (its table, source and day, blob URL come
    from ``spec``) and what the run keys it by."""

    load_key: str
    spec: UnitSpec
    source_id: int | None = None
    day: date | None = None
    """A blob's partition day (Kusto ``creationTime``); a source's day is its spec's."""
    blob_url: str | None = None
    """Shown for units that are not blobs but stand for one (redacted, as a blob's own)."""
    blob_source_id: str | None = None

    @property
    def source_name(self) -> str | None:
        return self.spec.source if isinstance(self.spec, SOURCE_KINDS) else None

    @property
    def unit_day(self) -> date | None:
        return self.spec.day if isinstance(self.spec, SourceDayUnitSpec) else self.day

    @property
    def shown_url(self) -> str | None:
        return self.spec.url if isinstance(self.spec, BlobUnitSpec) else self.blob_url


SOURCE_KINDS = (SourceDayUnitSpec, StreamBatchUnitSpec)
"""Specs whose unit belongs to a source (its name is on the unit row)."""


def day_range(start: date, end: date) -> list[date]:
    if end < start:
        raise InvalidInput(f"the end day {end} is before the start day {start}")
    days = (end - start).days + 1
    if days > MAX_DAYS_PER_RUN:
        raise InvalidInput(f"a run covers at most {MAX_DAYS_PER_RUN} days, not {days}")
    return [start + timedelta(days=i) for i in range(days)]


RunHook = Callable[[Transaction, str], None]
"""Work done in a new run's own transaction, given the run's id (e.g. storing a request's
answer with it: ``Claimed.with_run``); it commits with the run or not at all."""


class Runs:
    def __init__(
        self, store: Store, catalog: Catalog, retry: RetryPolicy, *, clock: Clock = system_clock
    ) -> None:
        self.store = store
        self.records: RunRepository = SqlRuns(store)
        self.schedules = SqlSchedules(store)
        self.catalog = catalog
        self.retry = retry
        self.clock: Clock = Ascending(clock)
        """Every timestamp of runs, units, leases and history: the services' clock, never
        repeating an instant, so a fixed clock in tests still orders what happened."""

    # -- creating -----------------------------------------------------------------------------

    def start_source_run(
        self,
        project_id: int,
        source_names: Sequence[str],
        days: Sequence[date],
        *,
        trigger: str,
        idempotency_key: str | None = None,
        then: RunHook | None = None,
        origin: RunOrigin | None = None,
    ) -> RunView:
        """One run with a unit per source and day. A repeated idempotency key returns the first
        run and creates nothing. ``then(transaction, run_id)`` runs in the run's own
        transaction (e.g. to store a request's answer with it)."""
        if not source_names:
            raise InvalidInput("a run needs at least one source")
        if not days:
            raise InvalidInput("a run needs at least one day")
        sources = self.catalog.get_sources(project_id, source_names)
        units = [
            NewUnit(
                load_key=f"source:{source.id}:{day.isoformat()}",
                spec=SourceDayUnitSpec(table=source.table, source=source.name, day=day),
                source_id=source.id,
            )
            for source in sources
            for day in days
        ]
        return self.create_run(
            project_id,
            kind="source",
            trigger=trigger,
            units=units,
            days=sorted({d.isoformat() for d in days}),
            source_names=[s.name for s in sources],
            idempotency_key=idempotency_key,
            then=then,
            origin=origin,
        )

    def create_run(
        self,
        project_id: int,
        *,
        kind: str,
        trigger: str,
        units: Sequence[NewUnit],
        days: list[str] | None = None,
        source_names: list[str] | None = None,
        idempotency_key: str | None = None,
        request: dict[str, Any] | None = None,
        max_attempts: int | None = None,
        then: RunHook | None = None,
        origin: RunOrigin | None = None,
    ) -> RunView:
        """Create a run and its units in one transaction, with ``then(transaction, run_id)``
        run in it before it commits."""
        if idempotency_key is not None:
            existing = self.find_by_idempotency_key(project_id, idempotency_key)
            if existing is not None:
                return existing
        now = self.clock()
        run_id = str(uuid.uuid4())
        run = NewRun(
            id=run_id,
            project_id=project_id,
            trigger=trigger,
            kind=kind,
            state=derive_run_state([UnitState.ENQUEUED] * len(units)),
            days=days or [],
            source_names=source_names or [],
            idempotency_key=idempotency_key,
            request=request or {},
            origin=origin,
            created_at=now,
            ended_at=None if units else now,
        )
        planned = [
            PlannedUnit(
                id=str(uuid.uuid4()),
                load_key=new.load_key,
                spec=new.spec,
                source_id=new.source_id,
                source_name=new.source_name,
                day=new.unit_day,
                blob_url=new.shown_url,
                blob_source_id=new.blob_source_id,
                max_attempts=max_attempts or self.retry.max_attempts,
            )
            for new in units
        ]
        hook = None if then is None else (lambda transaction: then(transaction, run_id))
        if not self.records.create(run, planned, hook):
            # Lost a race with the same idempotency key: the winner's run is the answer.
            assert idempotency_key is not None
            existing = self.find_by_idempotency_key(project_id, idempotency_key)
            assert existing is not None
            return existing
        return self.get_run(project_id, run_id)

    def find_by_idempotency_key(self, project_id: int, key: str) -> RunView | None:
        run_id = self.records.run_id_by_key(project_id, key)
        return None if run_id is None else self.get_run(project_id, run_id)

    # -- moving -------------------------------------------------------------------------------

    def _transition(
        self, moves: UnitMoves, unit: UnitStatus, new: UnitState, message: str | None = None
    ) -> UnitStatus:
        """Move ``unit`` to ``new`` if the state machine allows it, and re-derive its run's
        state; the unit as it is now."""
        check_transition(unit.state, new)
        now = self.clock()
        moved = moves.move(unit.id, new, now, message, ends=new in TERMINAL_UNIT_STATES)
        self._refresh_run(moves, unit.run_id)
        return moved

    def _refresh_run(self, moves: UnitMoves, run_id: str) -> None:
        # The run's row is locked (see ``UnitMoves.lock_run``: the lock that avoids deadlocks
        # between units of one run ending at once on several workers).
        run = moves.lock_run(run_id)
        states = moves.unit_states(run_id)
        state = derive_run_state(states, cancel_requested=run.cancel_requested)
        now = self.clock()
        changed = state != run.state
        moves.touch_run(
            run_id,
            now,
            state=state if changed else None,
            ends=changed and all(s in TERMINAL_UNIT_STATES for s in states),
        )

    def claim_next(self, worker: str, lease_seconds: float) -> Claim | None:
        """Claim the oldest due unit for ``worker``, or None. Due: enqueued, retrying whose
        backoff has passed, or active with an expired lease (its worker died)."""
        now = self.clock()
        for due in due_units(self.store, now, limit=8):
            claim = self._try_claim(due.id, due.state, due.lease_expires_at, worker, lease_seconds)
            if claim is not None:
                return claim
        return None

    def claim_if_due(self, unit_id: str, worker: str, lease_seconds: float) -> Claim | None:
        """Claim this unit if it is due (what a Celery task asks): None if it is not (another
        worker holds a live lease, its backoff has not passed, it has ended, it is gone). A
        task delivered twice therefore runs its unit at most once at a time, and never again
        once it has ended."""
        now = self.clock()
        due = due_unit(self.store, unit_id, now)
        if due is None:
            return None
        return self._try_claim(unit_id, due.state, due.lease_expires_at, worker, lease_seconds)

    def claim_unit(self, unit_id: str, worker: str, lease_seconds: float) -> Claim | None:
        """Claim this one unit, still enqueued and never leased, for ``worker`` (a request that
        runs the unit it made, e.g. Kusto streaming ingestion); None if a worker of the pool
        took it first. The same conditional update as ``claim_next``: one holder at a time."""
        return self._try_claim(unit_id, UnitState.ENQUEUED, None, worker, lease_seconds)

    def _try_claim(
        self,
        unit_id: str,
        state: UnitState,
        lease: datetime | None,
        worker: str,
        lease_seconds: float,
    ) -> Claim | None:
        with self.records.moves() as moves:
            now = self.clock()
            expires = now + timedelta(seconds=lease_seconds)
            unit = moves.take_lease(unit_id, state, lease, worker, expires)
            if unit is None:
                return None  # another worker won the race
            if state in ACTIVE_UNIT_STATES:
                unit = self._transition(
                    moves, unit, UnitState.RETRYING, "the worker's lease ran out; picked up again"
                )
            if unit.attempt >= unit.max_attempts:
                moves.set_failure(
                    unit.id, FailureClass.EXHAUSTED, unit.error_code or "INTERNAL_ERROR"
                )
                self._transition(moves, unit, UnitState.FAILED, "no attempts left")
                return None
            unit = moves.start_attempt(unit.id, now)
            self._transition(moves, unit, UnitState.STARTED, f"attempt {unit.attempt} by {worker}")
            name = moves.project_name(unit.project_id)
            return Claim(unit.id, unit.run_id, unit.project_id, unit.attempt, name)

    def claimed_unit(self, claim: Claim) -> UnitRecord:
        """What the claimed unit loads, with its run's ids."""
        record = unit_record(self.store, claim.unit_id)
        if record is None or record.project_id != claim.project_id:
            raise NotFound(f"unit {claim.unit_id} does not exist")
        return record

    def heartbeat(self, unit_id: str, worker: str, lease_seconds: float) -> bool:
        """Extend the lease; False if the unit is no longer ours or its cancel was asked for."""
        with self.records.moves() as moves:
            unit = moves.unit(unit_id)
            if unit is None or unit.lease_owner != worker:
                return False
            run = moves.run(unit.run_id)
            moves.extend_lease(unit_id, self.clock() + timedelta(seconds=lease_seconds))
            canceled = unit.cancel_requested or (run is not None and run.cancel_requested)
            return not canceled

    def advance(
        self, unit_id: str, worker: str, new: UnitState, message: str | None = None
    ) -> None:
        with self.records.moves() as moves:
            unit = self._owned(moves, unit_id, worker)
            self._transition(moves, unit, new, message)

    def record_progress(self, unit_id: str, rows_read: int) -> None:
        self.records.record_progress(unit_id, rows_read)

    def succeed(self, unit_id: str, worker: str, result: LoadResult, message: str | None) -> None:
        with self.records.moves() as moves:
            unit = self._owned(moves, unit_id, worker)
            files = [FileView(f.name, f.counts, f.skipped) for f in result.files]
            moves.record_result(unit_id, result.counts, files)
            self._transition(moves, unit, UnitState.SUCCEEDED, message)

    def skip(self, unit_id: str, worker: str, message: str) -> None:
        with self.records.moves() as moves:
            unit = self._owned(moves, unit_id, worker)
            self._transition(moves, unit, UnitState.SKIPPED, message)

    def fail(self, unit_id: str, worker: str, error: UnitError) -> float | None:
        """Record a failed attempt. Transient errors with attempts left go to retrying and
        return the backoff in seconds; everything else fails the unit (None)."""
        with self.records.moves() as moves:
            unit = self._owned(moves, unit_id, worker)
            if error.failure_class is FailureClass.TRANSIENT and unit.attempt < unit.max_attempts:
                delay = self.retry.delay(unit.attempt)
                moves.set_failure(unit_id, FailureClass.TRANSIENT, error.code, str(error))
                moves.schedule_retry(unit_id, self.clock() + timedelta(seconds=delay))
                self._transition(
                    moves,
                    unit,
                    UnitState.RETRYING,
                    f"{error.code}: {error}; attempt {unit.attempt + 1} in {delay:.1f}s",
                )
                return delay
            exhausted = error.failure_class is FailureClass.TRANSIENT
            failure = FailureClass.EXHAUSTED if exhausted else error.failure_class
            moves.set_failure(unit_id, failure, error.code, str(error))
            self._transition(moves, unit, UnitState.FAILED, f"{error.code}: {error}")
            return None

    def finish_canceled(self, unit_id: str, worker: str) -> None:
        with self.records.moves() as moves:
            unit = self._owned(moves, unit_id, worker)
            if unit.state is not UnitState.CANCELED:
                self._transition(moves, unit, UnitState.CANCELED, "canceled while running")

    def _owned(self, moves: UnitMoves, unit_id: str, worker: str) -> UnitStatus:
        unit = moves.hold(unit_id)
        if unit is None:
            raise NotFound(f"unit {unit_id} does not exist")
        if unit.lease_owner != worker:
            raise IllegalTransition(f"unit {unit_id} is not held by worker {worker}")
        return unit

    # -- canceling ----------------------------------------------------------------------------

    def cancel_run(self, project_id: int, run_id: str) -> RunView:
        """Cancel every unit not finished: waiting ones at once, running ones through their
        worker (it sees the request at its next heartbeat and stops before committing)."""
        with self.records.moves() as moves:
            run = moves.run(run_id)
            if run is None or run.project_id != project_id:
                raise NotFound(f"run {run_id} does not exist")
            moves.request_run_cancel(run_id)
            for unit in moves.units_of_run(run_id):
                if unit.state in (UnitState.ENQUEUED, UnitState.RETRYING):
                    self._transition(moves, unit, UnitState.CANCELED, "canceled on request")
                elif unit.state in ACTIVE_UNIT_STATES:
                    moves.request_unit_cancel(unit.id)
            self._refresh_run(moves, run_id)
        return self.get_run(project_id, run_id)

    def cancel_unit(self, project_id: int, unit_id: str) -> UnitView:
        with self.records.moves() as moves:
            unit = moves.unit(unit_id)
            if unit is None or unit.project_id != project_id:
                raise NotFound(f"unit {unit_id} does not exist")
            if unit.state in TERMINAL_UNIT_STATES:
                raise IllegalTransition(f"unit {unit_id} has already ended ({unit.state.value})")
            if unit.state in ACTIVE_UNIT_STATES:
                # Its worker stops it before the commit (or, if it already committed, the unit
                # honestly ends succeeded).
                moves.request_unit_cancel(unit_id)
                moves.note(unit_id, self.clock(), "cancel requested")
            else:
                self._transition(moves, unit, UnitState.CANCELED, "canceled on request")
            return moves.unit_view(unit_id)

    # -- reading ------------------------------------------------------------------------------

    def get_run(self, project_id: int, run_id: str, *, history: bool = True) -> RunView:
        view = self.records.run_view(project_id, run_id, history=history)
        if view is None:
            raise NotFound(f"run {run_id} does not exist")
        return view

    def resolve_run_id(self, project_id: int, given: str) -> str:
        """The id of the project's one run whose id is ``given`` or starts with it (as docker
        resolves a container id prefix). None found is ``NotFound``; more than one is
        ``InvalidInput`` naming the candidates."""
        wanted = given.strip().lower()
        if not wanted:
            raise InvalidInput("say which run", hint="give its id or the start of it")
        ids = self.records.run_ids_starting(project_id, wanted, limit=6)
        if not ids:
            raise NotFound(f"no run's id starts with {given!r}", hint="see: ingestd runs list")
        if len(ids) > 1 and wanted not in ids:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise InvalidInput(
                f"{given!r} is the start of more than one run's id: {shown}",
                hint="give more of the id",
            )
        return wanted if wanted in ids else ids[0]

    def list_runs(
        self,
        project_id: int,
        *,
        limit: int = 20,
        offset: int = 0,
        kind: str | None = None,
        origin: RunOrigin | None = None,
        history: bool = False,
    ) -> tuple[list[RunView], int]:
        """Runs newest first, with their units (and, with ``history``, every status change),
        and the total count: three queries whatever the page size."""
        return self.records.page(
            project_id, kind=kind, origin=origin, limit=limit, offset=offset, history=history
        )

    def source_ids_with_schedule(self, project_id: int | None = None) -> list[ScheduledSource]:
        """Enabled sources with an hour of their own (the scheduler runs each at it)."""
        return self.schedules.sources_with_hours(project_id)
