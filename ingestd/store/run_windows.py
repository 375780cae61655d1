"""SQL behind Amperity's ``GET /api/ingest/jobs``: the runs whose job started in a window.

A job starts at its earliest feed's start (§5 item 14): a feed (the units of one source, or of
one table when they have no source) starts when its first unit started, or when it was
created if none has; a run without units starts at its creation. That start is computed,
filtered and ordered in SQL, over only the runs that can qualify (created in the window, or
with a unit that started in it: units are created with their run), never the project's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, select, union
from sqlalchemy.orm import Session

from ingestd.store.schema import Run, Unit


def started_between(session: Session, project_id: int, start: datetime, end: datetime) -> list[Run]:
    """The project's runs whose job started in ``[start, end)``, latest start first (ties: by
    id, descending)."""
    created = select(Run.id).where(
        Run.project_id == project_id, Run.created_at >= start, Run.created_at < end
    )
    unit_started = select(Unit.run_id).where(
        Unit.project_id == project_id, Unit.started_at >= start, Unit.started_at < end
    )
    candidates = union(created, unit_started).cte("candidates")
    feed = case((Unit.source_id.is_(None), Unit.table_name), else_=None)
    feeds = (
        select(
            Unit.run_id.label("run_id"),
            func.coalesce(func.min(Unit.started_at), func.min(Unit.created_at)).label("start"),
        )
        .join(candidates, candidates.c.id == Unit.run_id)
        .group_by(Unit.run_id, Unit.source_id, feed)
        .subquery("feeds")
    )
    job_start = func.coalesce(func.min(feeds.c.start), Run.created_at).label("job_start")
    jobs = (
        select(Run.id, job_start)
        .join(candidates, candidates.c.id == Run.id)
        .outerjoin(feeds, feeds.c.run_id == Run.id)
        .where(Run.project_id == project_id)
        .group_by(Run.id, Run.created_at)
        .subquery("jobs")
    )
    query = (
        select(Run)
        .join(jobs, jobs.c.id == Run.id)
        .where(and_(jobs.c.job_start >= start, jobs.c.job_start < end))
        .order_by(jobs.c.job_start.desc(), Run.id.desc())
    )
    return list(session.scalars(query))
