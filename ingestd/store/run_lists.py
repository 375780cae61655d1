"""SQL behind the run lists of the dialects (Statsig runs, Kusto failures) and the CLI.

A page of runs is read in a fixed number of queries (the runs, then all their units, then all
their history) whatever its size, never one query per run.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ingestd.domain.states import UnitState
from ingestd.store.schema import Run, StatusEvent, Unit


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
    """The project's runs (of ``kind``, through ``origin``), newest first: a page, the total."""
    query = _runs(project_id, kind, origin)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    newest_first = (Run.created_at.desc(), Run.id)
    # The page's ids first (an index-only scan of ix_runs_project_kind_newest that skips
    # ``offset`` entries without reading their rows), then those rows by primary key.
    ids = query.with_only_columns(Run.id).order_by(*newest_first).limit(limit).offset(offset)
    page = select(Run).where(Run.id.in_(ids.scalar_subquery())).order_by(*newest_first)
    return list(session.scalars(page)), int(total)


def units_of(session: Session, run_ids: Sequence[str]) -> list[Unit]:
    """The units of these runs, each run's in position order."""
    if not run_ids:
        return []
    query = select(Unit).where(Unit.run_id.in_(list(run_ids)))
    return list(session.scalars(query.order_by(Unit.run_id, Unit.position)))


def history_of(session: Session, run_ids: Sequence[str]) -> list[StatusEvent]:
    """Every status change of these runs and their units, oldest first."""
    if not run_ids:
        return []
    query = select(StatusEvent).where(StatusEvent.run_id.in_(list(run_ids)))
    return list(session.scalars(query.order_by(StatusEvent.at, StatusEvent.id)))


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
