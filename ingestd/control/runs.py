"""Runs and units: creating them, moving them through the state machine, reading them back.

Every state change goes through ``_transition``: it checks the move against the one state
machine (``domain.states``), appends to the history and re-derives the run's state from its
units. Workers claim units with a conditional update plus a lease, so a unit never runs twice at
once, and a unit whose worker died is picked up again once its lease runs out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ingestd.control.catalog import Catalog
from ingestd.control.run_views import HistoryEntry, RunView, UnitView
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
from ingestd.store.daily_status import UnitDay, record_newest
from ingestd.store.database import Store
from ingestd.store.run_lists import history_of, runs_page, units_of
from ingestd.store.schema import Project, Run, Source, StatusEvent, Unit, UnitFile
from ingestd.store.unit_dispatch import due_clause
from ingestd.store.unit_records import unit_record

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


class Runs:
    def __init__(
        self, store: Store, catalog: Catalog, retry: RetryPolicy, *, clock: Clock = system_clock
    ) -> None:
        self.store = store
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
        then: Callable[[Session, str], None] | None = None,
        origin: RunOrigin | None = None,
    ) -> RunView:
        """One run with a unit per source and day. A repeated idempotency key returns the first
        run and creates nothing. ``then(session, run_id)`` runs in the run's own transaction
        (e.g. to store a request's answer with it)."""
        if not source_names:
            raise InvalidInput("a run needs at least one source")
        if not days:
            raise InvalidInput("a run needs at least one day")
        sources = [self.catalog.get_source(project_id, name) for name in source_names]
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
        then: Callable[[Session, str], None] | None = None,
        origin: RunOrigin | None = None,
    ) -> RunView:
        """Create a run and its units in one transaction, with ``then(session, run_id)`` run in
        it before it commits."""
        if idempotency_key is not None:
            existing = self.find_by_idempotency_key(project_id, idempotency_key)
            if existing is not None:
                return existing
        now = self.clock()
        run_id = str(uuid.uuid4())
        try:
            with self.store.write() as session:
                session.add(
                    Run(
                        id=run_id,
                        project_id=project_id,
                        trigger=trigger,
                        kind=kind,
                        state=derive_run_state([UnitState.ENQUEUED] * len(units)).value,
                        days=days or [],
                        source_names=source_names or [],
                        idempotency_key=idempotency_key,
                        request=request or {},
                        origin=origin.value if origin is not None else None,
                        created_at=now,
                        updated_at=now,
                        ended_at=None if units else now,
                    )
                )
                session.add(StatusEvent(run_id=run_id, state="enqueued", at=now))
                session.flush()
                newest: list[UnitDay] = []
                for position, new in enumerate(units):
                    unit_id = str(uuid.uuid4())
                    if new.source_name is not None and new.unit_day is not None:
                        newest.append(
                            UnitDay(
                                project_id, new.source_name, new.unit_day, unit_id, now, position
                            )
                        )
                    session.add(
                        Unit(
                            id=unit_id,
                            run_id=run_id,
                            project_id=project_id,
                            position=position,
                            source_id=new.source_id,
                            source_name=new.source_name,
                            day=new.unit_day,
                            blob_url=new.shown_url,
                            blob_source_id=new.blob_source_id,
                            table_name=new.spec.table,
                            load_key=new.load_key,
                            spec=new.spec.to_json(),
                            state=UnitState.ENQUEUED.value,
                            max_attempts=max_attempts or self.retry.max_attempts,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    session.add(
                        StatusEvent(run_id=run_id, unit_id=unit_id, state="enqueued", at=now)
                    )
                session.flush()
                record_newest(session, newest)  # the daily status cells they now decide
                if then is not None:
                    then(session, run_id)
        except IntegrityError:
            # Lost a race with the same idempotency key: the winner's run is the answer.
            if idempotency_key is None:
                raise
            existing = self.find_by_idempotency_key(project_id, idempotency_key)
            assert existing is not None
            return existing
        return self.get_run(project_id, run_id)

    def find_by_idempotency_key(self, project_id: int, key: str) -> RunView | None:
        with self.store.read() as session:
            run_id = session.scalar(
                select(Run.id).where(Run.project_id == project_id, Run.idempotency_key == key)
            )
        return None if run_id is None else self.get_run(project_id, run_id)

    # -- moving -------------------------------------------------------------------------------

    def _transition(
        self, session: Session, unit: Unit, new: UnitState, message: str | None = None
    ) -> None:
        check_transition(UnitState(unit.state), new)
        now = self.clock()
        unit.state = new.value
        unit.updated_at = now
        if new in TERMINAL_UNIT_STATES:
            unit.ended_at = now
            unit.lease_owner = None
            unit.lease_expires_at = None
        session.add(
            StatusEvent(
                run_id=unit.run_id, unit_id=unit.id, state=new.value, at=now, message=message
            )
        )
        session.flush()
        self._refresh_run(session, unit.run_id)

    def _refresh_run(self, session: Session, run_id: str) -> None:
        # FOR NO KEY UPDATE: the status event just added holds a key-share lock on this row
        # (its foreign key), as do those of the run's other units ending at the same moment on
        # other workers; FOR UPDATE would wait on theirs while they wait on ours (deadlock).
        run = session.get(Run, run_id, with_for_update={"key_share": True})
        assert run is not None
        states = [
            UnitState(s) for s in session.scalars(select(Unit.state).where(Unit.run_id == run_id))
        ]
        state = derive_run_state(states, cancel_requested=run.cancel_requested)
        now = self.clock()
        run.updated_at = now
        if state.value != run.state:
            run.state = state.value
            session.add(StatusEvent(run_id=run_id, state=state.value, at=now))
            if all(s in TERMINAL_UNIT_STATES for s in states):
                run.ended_at = now

    def claim_next(self, worker: str, lease_seconds: float) -> Claim | None:
        """Claim the oldest due unit for ``worker``, or None. Due: enqueued, retrying whose
        backoff has passed, or active with an expired lease (its worker died)."""
        now = self.clock()
        with self.store.read() as session:
            candidates = session.execute(
                select(Unit.id, Unit.state, Unit.lease_expires_at)
                .where(due_clause(now))
                .order_by(Unit.created_at, Unit.position)
                .limit(8)
            ).all()
        for unit_id, state, lease in candidates:
            claim = self._try_claim(unit_id, state, lease, worker, lease_seconds)
            if claim is not None:
                return claim
        return None

    def claim_if_due(self, unit_id: str, worker: str, lease_seconds: float) -> Claim | None:
        """Claim this unit if it is due (what a Celery task asks): None if it is not (another
        worker holds a live lease, its backoff has not passed, it has ended, it is gone). A
        task delivered twice therefore runs its unit at most once at a time, and never again
        once it has ended."""
        now = self.clock()
        with self.store.read() as session:
            row = session.execute(
                select(Unit.state, Unit.lease_expires_at).where(Unit.id == unit_id, due_clause(now))
            ).first()
        if row is None:
            return None
        return self._try_claim(unit_id, row.state, row.lease_expires_at, worker, lease_seconds)

    def claim_unit(self, unit_id: str, worker: str, lease_seconds: float) -> Claim | None:
        """Claim this one unit, still enqueued and never leased, for ``worker`` (a request that
        runs the unit it made, e.g. Kusto streaming ingestion); None if a worker of the pool
        took it first. The same conditional update as ``claim_next``: one holder at a time."""
        return self._try_claim(unit_id, UnitState.ENQUEUED.value, None, worker, lease_seconds)

    def _try_claim(
        self, unit_id: str, state: str, lease: datetime | None, worker: str, lease_seconds: float
    ) -> Claim | None:
        with self.store.write() as session:
            now = self.clock()
            taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(Unit)
                .where(
                    Unit.id == unit_id,
                    Unit.state == state,
                    Unit.lease_expires_at.is_(None)
                    if lease is None
                    else Unit.lease_expires_at == lease,
                )
                .values(
                    lease_owner=worker,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    dispatched_at=None,
                )
            )
            if taken.rowcount != 1:
                return None  # another worker won the race
            unit = session.get(Unit, unit_id)
            assert unit is not None
            session.refresh(unit)
            if UnitState(state) in ACTIVE_UNIT_STATES:
                self._transition(
                    session, unit, UnitState.RETRYING, "the worker's lease ran out; picked up again"
                )
            if unit.attempt >= unit.max_attempts:
                unit.failure_status = FailureClass.EXHAUSTED.value
                unit.error_code = unit.error_code or "INTERNAL_ERROR"
                self._transition(session, unit, UnitState.FAILED, "no attempts left")
                return None
            unit.attempt += 1
            unit.started_at = unit.started_at or now
            unit.next_attempt_at = None
            self._transition(
                session, unit, UnitState.STARTED, f"attempt {unit.attempt} by {worker}"
            )
            project = session.get(Project, unit.project_id)
            name = project.name if project is not None else None
            return Claim(unit.id, unit.run_id, unit.project_id, unit.attempt, name)

    def claimed_unit(self, claim: Claim) -> UnitRecord:
        """What the claimed unit loads, with its run's ids."""
        record = unit_record(self.store, claim.unit_id)
        if record is None or record.project_id != claim.project_id:
            raise NotFound(f"unit {claim.unit_id} does not exist")
        return record

    def heartbeat(self, unit_id: str, worker: str, lease_seconds: float) -> bool:
        """Extend the lease; False if the unit is no longer ours or its cancel was asked for."""
        with self.store.write() as session:
            unit = session.get(Unit, unit_id)
            if unit is None or unit.lease_owner != worker:
                return False
            run = session.get(Run, unit.run_id)
            unit.lease_expires_at = self.clock() + timedelta(seconds=lease_seconds)
            canceled = unit.cancel_requested or (run is not None and run.cancel_requested)
            return not canceled

    def advance(
        self, unit_id: str, worker: str, new: UnitState, message: str | None = None
    ) -> None:
        with self.store.write() as session:
            unit = self._owned(session, unit_id, worker)
            self._transition(session, unit, new, message)

    def record_progress(self, unit_id: str, rows_read: int) -> None:
        with self.store.write() as session:
            session.execute(update(Unit).where(Unit.id == unit_id).values(read=rows_read))

    def succeed(self, unit_id: str, worker: str, result: LoadResult, message: str | None) -> None:
        with self.store.write() as session:
            unit = self._owned(session, unit_id, worker)
            c = result.counts
            unit.read, unit.inserted, unit.updated = c.read, c.inserted, c.updated
            unit.rejected, unit.errors = c.rejected, c.errors
            unit.error_code = unit.error_message = unit.failure_status = None
            session.query(UnitFile).filter(UnitFile.unit_id == unit_id).delete()
            for position, f in enumerate(result.files):
                session.add(
                    UnitFile(
                        unit_id=unit_id,
                        position=position,
                        name=f.name,
                        read=f.counts.read,
                        inserted=f.counts.inserted,
                        updated=f.counts.updated,
                        rejected=f.counts.rejected,
                        errors=f.counts.errors,
                        skipped=f.skipped,
                    )
                )
            self._transition(session, unit, UnitState.SUCCEEDED, message)

    def skip(self, unit_id: str, worker: str, message: str) -> None:
        with self.store.write() as session:
            unit = self._owned(session, unit_id, worker)
            self._transition(session, unit, UnitState.SKIPPED, message)

    def fail(self, unit_id: str, worker: str, error: UnitError) -> float | None:
        """Record a failed attempt. Transient errors with attempts left go to retrying and
        return the backoff in seconds; everything else fails the unit (None)."""
        with self.store.write() as session:
            unit = self._owned(session, unit_id, worker)
            unit.error_code = error.code
            unit.error_message = str(error)
            if error.failure_class is FailureClass.TRANSIENT and unit.attempt < unit.max_attempts:
                delay = self.retry.delay(unit.attempt)
                unit.failure_status = FailureClass.TRANSIENT.value
                unit.next_attempt_at = self.clock() + timedelta(seconds=delay)
                unit.lease_owner = unit.lease_expires_at = None
                self._transition(
                    session,
                    unit,
                    UnitState.RETRYING,
                    f"{error.code}: {error}; attempt {unit.attempt + 1} in {delay:.1f}s",
                )
                return delay
            exhausted = error.failure_class is FailureClass.TRANSIENT
            unit.failure_status = (
                FailureClass.EXHAUSTED if exhausted else error.failure_class
            ).value
            self._transition(session, unit, UnitState.FAILED, f"{error.code}: {error}")
            return None

    def finish_canceled(self, unit_id: str, worker: str) -> None:
        with self.store.write() as session:
            unit = self._owned(session, unit_id, worker)
            if unit.state != UnitState.CANCELED.value:
                self._transition(session, unit, UnitState.CANCELED, "canceled while running")

    def _owned(self, session: Session, unit_id: str, worker: str) -> Unit:
        unit = session.get(Unit, unit_id, with_for_update=True)
        if unit is None:
            raise NotFound(f"unit {unit_id} does not exist")
        if unit.lease_owner != worker:
            raise IllegalTransition(f"unit {unit_id} is not held by worker {worker}")
        return unit

    # -- canceling ----------------------------------------------------------------------------

    def cancel_run(self, project_id: int, run_id: str) -> RunView:
        """Cancel every unit not finished: waiting ones at once, running ones through their
        worker (it sees the request at its next heartbeat and stops before committing)."""
        with self.store.write() as session:
            run = self._run_row(session, project_id, run_id)
            run.cancel_requested = True
            units = session.scalars(select(Unit).where(Unit.run_id == run_id)).all()
            for unit in units:
                if UnitState(unit.state) in (UnitState.ENQUEUED, UnitState.RETRYING):
                    self._transition(session, unit, UnitState.CANCELED, "canceled on request")
                elif UnitState(unit.state) in ACTIVE_UNIT_STATES:
                    unit.cancel_requested = True
            self._refresh_run(session, run_id)
        return self.get_run(project_id, run_id)

    def cancel_unit(self, project_id: int, unit_id: str) -> UnitView:
        with self.store.write() as session:
            unit = session.get(Unit, unit_id)
            if unit is None or unit.project_id != project_id:
                raise NotFound(f"unit {unit_id} does not exist")
            state = UnitState(unit.state)
            if state in TERMINAL_UNIT_STATES:
                raise IllegalTransition(f"unit {unit_id} has already ended ({state.value})")
            if state in ACTIVE_UNIT_STATES:
                # Its worker stops it before the commit (or, if it already committed, the unit
                # honestly ends succeeded).
                unit.cancel_requested = True
                session.add(
                    StatusEvent(
                        run_id=unit.run_id,
                        unit_id=unit.id,
                        state=unit.state,
                        at=self.clock(),
                        message="cancel requested",
                    )
                )
            else:
                self._transition(session, unit, UnitState.CANCELED, "canceled on request")
            return UnitView.of(unit)

    # -- reading ------------------------------------------------------------------------------

    def _run_row(self, session: Session, project_id: int, run_id: str) -> Run:
        run = session.get(Run, run_id)
        if run is None or run.project_id != project_id:
            raise NotFound(f"run {run_id} does not exist")
        return run

    def get_run(self, project_id: int, run_id: str, *, history: bool = True) -> RunView:
        with self.store.read() as session:
            run = self._run_row(session, project_id, run_id)
            units = session.scalars(
                select(Unit).where(Unit.run_id == run_id).order_by(Unit.position)
            ).all()
            files = session.scalars(
                select(UnitFile)
                .join(Unit, Unit.id == UnitFile.unit_id)
                .where(Unit.run_id == run_id)
            ).all()
            by_unit: dict[str, list[UnitFile]] = {}
            for f in files:
                by_unit.setdefault(f.unit_id, []).append(f)
            view = RunView.of(run, [UnitView.of(u, by_unit.get(u.id)) for u in units])
            if history:
                events = session.scalars(
                    select(StatusEvent)
                    .where(StatusEvent.run_id == run_id)
                    .order_by(StatusEvent.at, StatusEvent.id)
                ).all()
                by_id = {u.id: u for u in view.units}
                for event in events:
                    entry = HistoryEntry.of(event)
                    if event.unit_id is None:
                        view.history.append(entry)
                    elif event.unit_id in by_id:
                        by_id[event.unit_id].history.append(entry)
            return view

    def resolve_run_id(self, project_id: int, given: str) -> str:
        """The id of the project's one run whose id is ``given`` or starts with it (as docker
        resolves a container id prefix). None found is ``NotFound``; more than one is
        ``InvalidInput`` naming the candidates."""
        wanted = given.strip().lower()
        if not wanted:
            raise InvalidInput("say which run", hint="give its id or the start of it")
        with self.store.read() as session:
            ids = list(
                session.scalars(
                    select(Run.id)
                    .where(
                        Run.project_id == project_id,
                        func.substr(Run.id, 1, len(wanted)) == wanted,
                    )
                    .order_by(Run.created_at.desc(), Run.id)
                    .limit(6)
                )
            )
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
        with self.store.read() as session:
            runs, total = runs_page(
                session,
                project_id,
                kind=kind,
                origin=origin.value if origin is not None else None,
                limit=limit,
                offset=offset,
            )
            run_ids = [r.id for r in runs]
            units = units_of(session, run_ids)
            events = history_of(session, run_ids) if history else []
        by_run: dict[str, list[UnitView]] = {}
        for unit in units:
            by_run.setdefault(unit.run_id, []).append(UnitView.of(unit))
        views = [RunView.of(r, by_run.get(r.id, [])) for r in runs]
        if history:
            by_id = {u.id: u for view in views for u in view.units}
            by_view = {view.id: view for view in views}
            for event in events:
                entry = HistoryEntry.of(event)
                if event.unit_id is None:
                    by_view[event.run_id].history.append(entry)
                elif event.unit_id in by_id:
                    by_id[event.unit_id].history.append(entry)
        return views, total

    def source_ids_with_schedule(self, project_id: int | None = None) -> list[Source]:
        with self.store.read() as session:
            query = select(Source).where(
                Source.schedule_hour_pst.is_not(None), Source.enabled.is_(True)
            )
            if project_id is not None:
                query = query.where(Source.project_id == project_id)
            return list(session.scalars(query).all())
