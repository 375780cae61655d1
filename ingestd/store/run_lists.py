"""SQL behind the run lists of the dialects (Statsig runs, Kusto failures) and the CLI.

A page of runs is read in a fixed number of queries (the runs, then all their units, then all
their history) whatever its size, never one query per run. Units and history come back as
plain rows of the columns a view shows, not ORM objects: a page may carry thousands of units
and their history (a scheduled run of every source), and building an ORM object (identity
map, instance state, every column, the JSON ``spec`` parsed) was most of such a page's CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ingestd.domain.run_views import RunEventRow, UnitRow
from ingestd.domain.states import UnitState
from ingestd.store.run_counts import runs_total
from ingestd.store.schema import Run, StatusEvent, Unit

UNIT_VIEW_COLUMNS = (
    Unit.id,
    Unit.run_id,
    Unit.position,
    Unit.source_name,
    Unit.day,
    Unit.blob_url,
    Unit.blob_source_id,
    Unit.table_name,
    Unit.load_key,
    Unit.state,
    Unit.attempt,
    Unit.max_attempts,
    Unit.error_code,
    Unit.error_message,
    Unit.failure_status,
    Unit.created_at,
    Unit.started_at,
    Unit.ended_at,
    Unit.updated_at,
    Unit.read,
    Unit.inserted,
    Unit.updated,
    Unit.rejected,
    Unit.errors,
)
"""What ``UnitRow`` reads (a test holds the two to each other)."""
EVENT_COLUMNS = (
    StatusEvent.run_id,
    StatusEvent.unit_id,
    StatusEvent.state,
    StatusEvent.at,
    StatusEvent.message,
)
"""What ``RunEventRow`` reads."""


def _runs(project_id: int, kind: str | None, origin: str | None) -> Select[Run]:
    query = select(Run).where(Run.project_id == project_id)
    if kind is not None:
        query = query.where(Run.kind == kind)
    if origin is not None:
        query = query.where(Run.origin == origin)
    return query


def runs_page(
    session: Session,
    project_id: int,
    *,
    kind: str | None = None,
    origin: str | None = None,
    limit: int,
    offset: int = 0,
) -> tuple[list[Run], int]:
    """The project's runs (of ``kind``, through ``origin``), newest first: a page, the total
    (kept as runs are created: store/run_counts.py)."""
    query = _runs(project_id, kind, origin)
    total = runs_total(session, project_id, kind, origin)
    newest_first = (Run.created_at.desc(), Run.id)
    # The page's ids first (an index-only scan of ix_runs_project_kind_newest that skips
    # ``offset`` entries without reading their rows), then those rows by primary key.
    ids = query.with_only_columns(Run.id).order_by(*newest_first).limit(limit).offset(offset)
    page = select(Run).where(Run.id.in_(ids.scalar_subquery())).order_by(*newest_first)
    return list(session.scalars(page)), int(total)


def units_of(session: Session, run_ids: Sequence[str]) -> list[UnitRow]:
    """The units of these runs, each run's in position order (rows of ``UNIT_VIEW_COLUMNS``:
    a row has an attribute per column, which is all ``UnitRow`` asks)."""
    if not run_ids:
        return []
    query = select(*UNIT_VIEW_COLUMNS).where(Unit.run_id.in_(list(run_ids)))
    rows = session.execute(query.order_by(Unit.run_id, Unit.position)).all()
    return cast(list[UnitRow], rows)


def history_of(session: Session, run_ids: Sequence[str]) -> list[RunEventRow]:
    """Every status change of these runs and their units, oldest first."""
    if not run_ids:
        return []
    query = select(*EVENT_COLUMNS).where(StatusEvent.run_id.in_(list(run_ids)))
    rows = session.execute(query.order_by(StatusEvent.at, StatusEvent.id)).all()
    return cast(list[RunEventRow], rows)


def failed_units(
    session: Session, project_id: int, *, kind: str, origin: str, runs: int
) -> list[tuple[Run, Unit]]:
    """The failed units of the project's newest ``runs`` runs of ``kind`` through ``origin``,
    newest run first (each run's units in position order)."""
    newest = (
        _runs(project_id, kind, origin)
        .with_only_columns(Run.id)
        .order_by(Run.created_at.desc(), Run.id)
        .limit(runs)
        .subquery()
    )
    query = (
        select(Run, Unit)
        .join(Unit, Unit.run_id == Run.id)
        .where(Run.id.in_(select(newest.c.id)), Unit.state == UnitState.FAILED.value)
        .order_by(Run.created_at.desc(), Run.id, Unit.position)
    )
    return [(run, unit) for run, unit in session.execute(query)]
