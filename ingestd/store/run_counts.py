"""Kept counts of runs per project, kind and origin: a run list's total (Statsig's
``totalItems``, the CLI's and the dashboard's) read from a few rows instead of counting every
run of the kind, which grows with the project's history (100,000 runs: 18 ms of PostgreSQL a
request, index-only).

``run_counts`` (migration 0017) is kept in the transaction that creates a run
(``Runs.create``), as its last statement: the count row's lock is then held only for the
commit, so runs created at once in one project wait for one another for that long at most.
Runs are never deleted; a change that deletes them must take them out here too. A run
without an origin counts under ``origin`` '' (no ``RunOrigin`` is empty).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ingestd.store.database import upsert_for
from ingestd.store.schema import RunCount


def count_new_run(session: Session, project_id: int, kind: str, origin: str | None) -> None:
    """One more run of ``kind`` through ``origin`` in the project."""
    statement = upsert_for(session)(RunCount).values(
        project_id=project_id, kind=kind, origin=origin or "", runs=1
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RunCount.project_id, RunCount.kind, RunCount.origin],
            set_={"runs": RunCount.runs + 1},
        )
    )


def runs_total(session: Session, project_id: int, kind: str | None, origin: str | None) -> int:
    """How many runs the project has (of ``kind``, through ``origin``; None: any)."""
    query = select(func.coalesce(func.sum(RunCount.runs), 0)).where(
        RunCount.project_id == project_id
    )
    if kind is not None:
        query = query.where(RunCount.kind == kind)
    if origin is not None:
        query = query.where(RunCount.origin == origin)
    return int(session.scalar(query) or 0)
