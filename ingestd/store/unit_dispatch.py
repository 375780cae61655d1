"""Which units are due, and the dispatch marks of INGESTD_EXECUTOR=celery.

Due: enqueued, or retrying whose backoff has passed, or active with an expired lease (its worker
died). The local pool claims due units directly; in Celery mode the leading ``serve`` sends each
due unit to the broker once, marked by ``dispatched_at`` with a conditional update (two serve
processes never both send it), and sends it again only when no worker has claimed it for
``redispatch_seconds`` (its message was lost). A claim clears the mark, so a unit that goes back
to due (a retry, a lease run out) is sent again at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update

from ingestd.domain.states import ACTIVE_UNIT_STATES, UnitState
from ingestd.store.database import Store
from ingestd.store.schema import Unit


def due_clause(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            Unit.state.in_([UnitState.ENQUEUED.value, UnitState.RETRYING.value]),
            or_(Unit.next_attempt_at.is_(None), Unit.next_attempt_at <= now),
        ),
        and_(
            Unit.state.in_([s.value for s in ACTIVE_UNIT_STATES]),
            Unit.lease_expires_at < now,
        ),
    )


@dataclass(frozen=True)
class DueUnit:
    """A due unit as a claim finds it: its lease is taken only if these still hold."""

    id: str
    state: UnitState
    lease_expires_at: datetime | None


def due_units(store: Store, now: datetime, limit: int) -> list[DueUnit]:
    """The oldest due units (the local pool claims the first it can take)."""
    with store.read() as session:
        rows = session.execute(
            select(Unit.id, Unit.state, Unit.lease_expires_at)
            .where(due_clause(now))
            .order_by(Unit.created_at, Unit.position)
            .limit(limit)
        ).all()
    return [DueUnit(unit_id, UnitState(state), lease) for unit_id, state, lease in rows]


def due_unit(store: Store, unit_id: str, now: datetime) -> DueUnit | None:
    """Unit ``unit_id`` if it is due; None if it is not, or is gone."""
    with store.read() as session:
        row = session.execute(
            select(Unit.state, Unit.lease_expires_at).where(Unit.id == unit_id, due_clause(now))
        ).first()
    return None if row is None else DueUnit(unit_id, UnitState(row.state), row.lease_expires_at)


def _undispatched(now: datetime, redispatch_seconds: float) -> ColumnElement[bool]:
    return or_(
        Unit.dispatched_at.is_(None),
        Unit.dispatched_at < now - timedelta(seconds=redispatch_seconds),
    )


def units_to_dispatch(
    store: Store, now: datetime, redispatch_seconds: float, limit: int
) -> list[str]:
    """Due units not sent (or sent too long ago), oldest first."""
    with store.read() as session:
        return list(
            session.scalars(
                select(Unit.id)
                .where(due_clause(now), _undispatched(now, redispatch_seconds))
                .order_by(Unit.created_at, Unit.position)
                .limit(limit)
            )
        )


def mark_dispatched(store: Store, unit_id: str, now: datetime, redispatch_seconds: float) -> bool:
    """Take the right to send ``unit_id`` now; False if another dispatcher just took it, a
    worker claimed it, or it is no longer due."""
    with store.write() as session:
        taken: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Unit)
            .where(Unit.id == unit_id, due_clause(now), _undispatched(now, redispatch_seconds))
            .values(dispatched_at=now)
        )
        return taken.rowcount == 1


def unmark_dispatched(store: Store, unit_id: str, marked_at: datetime) -> None:
    """The send failed (broker unreachable): let the next dispatch pass try at once."""
    with store.write() as session:
        session.execute(
            update(Unit)
            .where(Unit.id == unit_id, Unit.dispatched_at == marked_at)
            .values(dispatched_at=None)
        )
