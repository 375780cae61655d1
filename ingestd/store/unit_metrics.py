"""SQL behind ``/metrics``: aggregates over units and their history, computed at scrape time.

Every process (``ingestd serve``, any number of workers) writes units to the one metadata
database, so numbers computed from it agree whichever process is scraped and however many
there are; nothing is counted in process memory. Each query aggregates in the database and
returns a handful of rows whatever the number of units.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ingestd.domain.states import ACTIVE_UNIT_STATES, TERMINAL_UNIT_STATES, UnitState
from ingestd.domain.unit_metrics import (
    UNIT_DURATION_BUCKETS,
    DurationSummary,
    TableRows,
    UnitMetrics,
)
from ingestd.store.database import Store
from ingestd.store.schema import Project, StatusEvent, Unit


class seconds_between(FunctionElement[float]):  # a SQL function, named like one
    """``end - start`` in seconds: the one backend difference here, declared per dialect."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _sqlite_seconds(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    # SQLite keeps datetimes as ISO text; julianday() parses it (microsecond-exact enough).
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _postgres_seconds(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def unit_metrics(store: Store, *, now: datetime, lease_seconds: float) -> UnitMetrics:
    """Everything ``/metrics`` reports about units, as of ``now``.

    ``lease_seconds`` is the lease every process grants (INGESTD_LEASE_SECONDS): a lease's
    grant or last renewal is its expiry less that.
    """
    with store.read() as session:
        units_now = _units_now(session)
        return UnitMetrics(
            rows=_rows(session),
            units_reached=_units_reached(session),
            units_now=units_now,
            in_flight=sum(units_now.get(state, 0) for state in ACTIVE_UNIT_STATES),
            queue_depth=_queue_depth(session, now),
            oldest_lease_age_seconds=_oldest_lease_age(session, now, lease_seconds),
            durations=_durations(session),
        )


def _rows(session: Session) -> tuple[TableRows, ...]:
    # Only succeeded units: their counts balance (read = inserted + updated + rejected +
    # errors) and never change again, except a quarantine replay moving errors to loaded.
    result = session.execute(
        select(
            Project.name,
            Unit.table_name,
            func.sum(Unit.read),
            func.sum(Unit.inserted),
            func.sum(Unit.updated),
            func.sum(Unit.rejected),
            func.sum(Unit.errors),
        )
        .join(Project, Project.id == Unit.project_id)
        .where(Unit.state == UnitState.SUCCEEDED.value)
        .group_by(Project.name, Unit.table_name)
        .order_by(Project.name, Unit.table_name)
    )
    return tuple(
        TableRows(project, table, int(r), int(i), int(u), int(j), int(e))
        for project, table, r, i, u, j, e in result.tuples()
    )


def _units_reached(session: Session) -> dict[UnitState, int]:
    result = session.execute(
        select(StatusEvent.state, func.count(func.distinct(StatusEvent.unit_id)))
        .where(StatusEvent.unit_id.is_not(None))
        .group_by(StatusEvent.state)
    )
    return _by_state(result.tuples())


def _units_now(session: Session) -> dict[UnitState, int]:
    result = session.execute(select(Unit.state, func.count()).group_by(Unit.state))
    return _by_state(result.tuples())


def _by_state(rows: Any) -> dict[UnitState, int]:
    known = {state.value for state in UnitState}
    return {UnitState(state): int(count) for state, count in rows if state in known}


def _queue_depth(session: Session, now: datetime) -> int:
    ready = and_(
        Unit.state.in_([UnitState.ENQUEUED.value, UnitState.RETRYING.value]),
        or_(Unit.next_attempt_at.is_(None), Unit.next_attempt_at <= now),
    )
    return int(session.scalar(select(func.count()).select_from(Unit).where(ready)) or 0)


def _oldest_lease_age(session: Session, now: datetime, lease_seconds: float) -> float:
    # Heartbeats push the expiry forward; the smallest expiry is the stalest claim. A worker
    # that died leaves it growing until another worker reclaims the unit.
    soonest: datetime | None = session.scalar(
        select(func.min(Unit.lease_expires_at)).where(
            Unit.state.in_([s.value for s in ACTIVE_UNIT_STATES]),
            Unit.lease_owner.is_not(None),
        )
    )
    if soonest is None:
        return 0.0
    granted = soonest - timedelta(seconds=lease_seconds)
    return max(0.0, (now - granted).total_seconds())


def _durations(session: Session) -> tuple[DurationSummary, ...]:
    seconds: ColumnElement[float] = seconds_between(Unit.started_at, Unit.ended_at)
    buckets = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in UNIT_DURATION_BUCKETS]
    result = session.execute(
        select(Unit.state, func.count(), func.sum(seconds), *buckets)
        .where(
            Unit.state.in_([s.value for s in TERMINAL_UNIT_STATES]),
            Unit.started_at.is_not(None),
            Unit.ended_at.is_not(None),
        )
        .group_by(Unit.state)
        .order_by(Unit.state)
    )
    return tuple(
        DurationSummary(
            state=UnitState(state),
            bucket_counts=tuple(int(n or 0) for n in counts),
            count=int(count),
            sum_seconds=float(total or 0.0),
        )
        for state, count, total, *counts in result.tuples()
    )
