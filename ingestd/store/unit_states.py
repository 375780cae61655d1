"""SQL of units' state moves: the write transaction in which ``control.runs`` moves units
through the state machine and keeps their run's state in step.

``control`` decides every move (is it allowed, what it records, when a run has ended);
``UnitMoves`` reads the rows the decision needs and writes what was decided, all in one
transaction. The rows stay in the transaction's session, so a unit read, changed and moved
again within it is one row throughout, flushed before the next read of its run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update

from ingestd.domain.counts import Counts
from ingestd.domain.run_views import FileView, UnitView
from ingestd.domain.states import RunState, UnitState
from ingestd.errors import FailureClass
from ingestd.store.schema import Project, Run, StatusEvent, Unit, UnitFile
from ingestd.store.transaction import Transaction


@dataclass(frozen=True)
class UnitStatus:
    """A unit as the state machine decides on it, as it is now in the transaction."""

    id: str
    run_id: str
    project_id: int
    state: UnitState
    attempt: int
    max_attempts: int
    lease_owner: str | None
    cancel_requested: bool
    error_code: str | None


@dataclass(frozen=True)
class RunStatus:
    """A run as its state is re-derived from its units."""

    id: str
    project_id: int
    state: RunState
    cancel_requested: bool


def _unit_status(unit: Unit) -> UnitStatus:
    return UnitStatus(
        id=unit.id,
        run_id=unit.run_id,
        project_id=unit.project_id,
        state=UnitState(unit.state),
        attempt=unit.attempt,
        max_attempts=unit.max_attempts,
        lease_owner=unit.lease_owner,
        cancel_requested=unit.cancel_requested,
        error_code=unit.error_code,
    )


def _run_status(run: Run) -> RunStatus:
    return RunStatus(run.id, run.project_id, RunState(run.state), run.cancel_requested)


class UnitMoves:
    """Reads and writes of units and their runs within one open write transaction."""

    def __init__(self, transaction: Transaction) -> None:
        self._session = transaction.session

    # -- reading ------------------------------------------------------------------------------

    def unit(self, unit_id: str) -> UnitStatus | None:
        unit = self._session.get(Unit, unit_id)
        return None if unit is None else _unit_status(unit)

    def hold(self, unit_id: str) -> UnitStatus | None:
        """The unit, its row locked (FOR UPDATE) until the transaction ends: a worker's move
        of the unit it holds waits for any other move of it."""
        unit = self._session.get(Unit, unit_id, with_for_update=True)
        return None if unit is None else _unit_status(unit)

    def units_of_run(self, run_id: str) -> list[UnitStatus]:
        units = self._session.scalars(select(Unit).where(Unit.run_id == run_id)).all()
        return [_unit_status(u) for u in units]

    def unit_view(self, unit_id: str) -> UnitView:
        """The unit as read models show it, with what this transaction changed (no files)."""
        return UnitView.of(self._unit(unit_id))

    def run(self, run_id: str) -> RunStatus | None:
        run = self._session.get(Run, run_id)
        return None if run is None else _run_status(run)

    def lock_run(self, run_id: str) -> RunStatus:
        """The run, its row locked until the transaction ends, to re-derive its state.

        FOR NO KEY UPDATE: the status event just added holds a key-share lock on this row (its
        foreign key), as do those of the run's other units ending at the same moment on other
        workers; FOR UPDATE would wait on theirs while they wait on ours (deadlock)."""
        run = self._session.get(Run, run_id, with_for_update={"key_share": True})
        assert run is not None  # a unit's run: units are deleted with their run only
        return _run_status(run)

    def unit_states(self, run_id: str) -> list[UnitState]:
        states = self._session.scalars(select(Unit.state).where(Unit.run_id == run_id))
        return [UnitState(s) for s in states]

    def project_name(self, project_id: int) -> str | None:
        project = self._session.get(Project, project_id)
        return None if project is None else project.name

    # -- leases -------------------------------------------------------------------------------

    def take_lease(
        self,
        unit_id: str,
        state: UnitState,
        lease: datetime | None,
        worker: str,
        expires_at: datetime,
    ) -> UnitStatus | None:
        """Give ``worker`` the unit's lease if it is still in ``state`` with lease ``lease``
        (a conditional update: of two workers only one matches); None if another worker won."""
        taken: CursorResult[Any] = self._session.execute(  # type: ignore[assignment]
            update(Unit)
            .where(
                Unit.id == unit_id,
                Unit.state == state.value,
                Unit.lease_expires_at.is_(None)
                if lease is None
                else Unit.lease_expires_at == lease,
            )
            .values(lease_owner=worker, lease_expires_at=expires_at, dispatched_at=None)
        )
        if taken.rowcount != 1:
            return None
        unit = self._unit(unit_id)
        self._session.refresh(unit)
        return _unit_status(unit)

    def extend_lease(self, unit_id: str, expires_at: datetime) -> None:
        self._unit(unit_id).lease_expires_at = expires_at

    # -- moving -------------------------------------------------------------------------------

    def move(
        self, unit_id: str, new: UnitState, at: datetime, message: str | None, *, ends: bool
    ) -> UnitStatus:
        """Put the unit in ``new`` and append it to the history; ``ends``: it has ended (its
        end time is set and its lease let go)."""
        unit = self._unit(unit_id)
        unit.state = new.value
        unit.updated_at = at
        if ends:
            unit.ended_at = at
            unit.lease_owner = None
            unit.lease_expires_at = None
        self._session.add(
            StatusEvent(
                run_id=unit.run_id, unit_id=unit.id, state=new.value, at=at, message=message
            )
        )
        self._session.flush()
        return _unit_status(unit)

    def note(self, unit_id: str, at: datetime, message: str) -> None:
        """Append ``message`` to the unit's history, in the state it is in."""
        unit = self._unit(unit_id)
        self._session.add(
            StatusEvent(
                run_id=unit.run_id, unit_id=unit.id, state=unit.state, at=at, message=message
            )
        )

    def touch_run(self, run_id: str, at: datetime, *, state: RunState | None, ends: bool) -> None:
        """Mark the run updated at ``at``; with ``state``, it moved there (appended to the
        history); ``ends``: it has ended."""
        run = self._session.get(Run, run_id)
        assert run is not None
        run.updated_at = at
        if state is not None:
            run.state = state.value
            self._session.add(StatusEvent(run_id=run_id, state=state.value, at=at))
        if ends:
            run.ended_at = at

    def start_attempt(self, unit_id: str, at: datetime) -> UnitStatus:
        """Count one more attempt, started at ``at`` (the unit's start: its first's)."""
        unit = self._unit(unit_id)
        unit.attempt += 1
        unit.started_at = unit.started_at or at
        unit.next_attempt_at = None
        return _unit_status(unit)

    def set_failure(
        self, unit_id: str, failure: FailureClass, code: str, message: str | None = None
    ) -> None:
        """Record why the unit failed (``message`` None: the one it has stays)."""
        unit = self._unit(unit_id)
        unit.failure_status = failure.value
        unit.error_code = code
        if message is not None:
            unit.error_message = message

    def schedule_retry(self, unit_id: str, at: datetime) -> None:
        """Let go of the unit's lease; it is due again at ``at``."""
        unit = self._unit(unit_id)
        unit.next_attempt_at = at
        unit.lease_owner = unit.lease_expires_at = None

    def record_result(self, unit_id: str, counts: Counts, files: Sequence[FileView]) -> None:
        """What the unit loaded, in all and per file (replacing any earlier attempt's), with
        no error."""
        unit = self._unit(unit_id)
        unit.read, unit.inserted, unit.updated = counts.read, counts.inserted, counts.updated
        unit.rejected, unit.errors = counts.rejected, counts.errors
        unit.error_code = unit.error_message = unit.failure_status = None
        self._session.query(UnitFile).filter(UnitFile.unit_id == unit_id).delete()
        for position, f in enumerate(files):
            self._session.add(
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

    # -- canceling ----------------------------------------------------------------------------

    def request_run_cancel(self, run_id: str) -> None:
        run = self._session.get(Run, run_id)
        assert run is not None
        run.cancel_requested = True

    def request_unit_cancel(self, unit_id: str) -> None:
        self._unit(unit_id).cancel_requested = True

    def _unit(self, unit_id: str) -> Unit:
        # Mostly already in the session (the decision read it), so no query is sent.
        unit = self._session.get(Unit, unit_id)
        assert unit is not None
        return unit
