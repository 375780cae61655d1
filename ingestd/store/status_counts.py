"""Kept counts of the daily status cells: a status list's total and where a deep page starts,
read in O(days in range) instead of O(cells).

``source_day_counts`` (migration 0016) holds, per project, day and source dataset, how many
``source_days`` cells of that day belong to a source that exists now: what the status reads
count by joining ``sources`` by name. It changes in the transaction of every change that
moves it:

- a new cell (``record_newest``; a newer unit taking over an existing cell is no change): +1
  under its source's dataset, if a source of that name exists;
- a source created: + its cells of each day under its dataset (the cells of a deleted source
  of that name come back); deleted: - the same; a rename or a dataset change is both, for the
  name and dataset before and after (``store.catalog`` changes neither today);
- a project deleted: its counts go with it (foreign key, ON DELETE CASCADE).

Nothing deletes cells today (units and runs are never deleted; ``source_days`` rows would go
with their unit by foreign key): a change that deletes them must take them out here too.

This is code called by the store's writers, not database triggers, because the order in which
a transaction takes its locks decides whether concurrent writers can deadlock, and a row
trigger would take them one cell at a time in whatever order the rows come: here a
transaction inserts all its cells first (in key order), then changes the count rows, all in
one order (day, then dataset). Nothing but ``store/`` writes these tables (``bench/`` fills
the counts with the rows it inserts in SQL).

Concurrent writers (PostgreSQL; SQLite has one writer at a time, ``BEGIN IMMEDIATE``):

- a cell counts only if this transaction's INSERT created it (``ON CONFLICT DO NOTHING
  RETURNING``), so two runs creating the same cell at once count it once: the second waits for
  the first to commit and then finds the row there;
- a project's cells and its sources exclude each other through a transaction-level advisory
  lock on the project: shared while cells are added (runs do not wait for one another),
  exclusive while a source's cells are added or removed, taken after the source's row changed
  and before its cells are read. Whichever commits first, the other's next statement sees it:
  a cell is counted by its run (the source was there) or by its source (the cell was), never
  by both or neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, Boolean, ColumnElement, String, func, literal, select, text
from sqlalchemy.orm import Session

from ingestd.store.database import upsert_for
from ingestd.store.schema import Source, SourceDay, SourceDayCount

CELLS_LOCK_CLASS = 0x1D6E57D7
"""The first key of the per-project advisory lock (the second is the project's id); the
two-key form never meets the single-key migration and leader locks."""


@dataclass(frozen=True)
class CellKey:
    """One ``source_days`` cell."""

    project_id: int
    source_name: str
    day: date


@dataclass(frozen=True)
class PageStart:
    """Where a page at some offset begins: the day of its first cell and how many cells of
    that day (by source name) come before it."""

    day: date
    skip: int


def lock_for_cells(session: Session, project_ids: Iterable[int]) -> None:
    """Before a transaction inserts cells of these projects: no source of theirs changes
    until it commits (shared: other runs' cells go on)."""
    for project_id in sorted(set(project_ids)):
        _lock(session, project_id, "pg_advisory_xact_lock_shared")


def count_new_cells(session: Session, cells: Sequence[CellKey]) -> None:
    """+1 for each cell this transaction just inserted, under its source's dataset (nothing
    for a cell no source of its name owns). Call after ``lock_for_cells``."""
    by_project: dict[int, list[CellKey]] = {}
    for cell in cells:
        by_project.setdefault(cell.project_id, []).append(cell)
    for project_id in sorted(by_project):
        keys = by_project[project_id]
        names = sorted({c.source_name for c in keys})
        datasets = dict(
            session.execute(
                select(Source.name, Source.dataset).where(
                    Source.project_id == project_id, Source.name.in_(names)
                )
            )
            .tuples()
            .all()
        )
        deltas: Counter[tuple[date, bool, str]] = Counter()
        for cell in keys:
            if cell.source_name in datasets:
                dataset = datasets[cell.source_name]
                deltas[(cell.day, dataset is not None, dataset or "")] += 1
        if not deltas:
            continue
        statement = upsert_for(session)(SourceDayCount)
        upsert = statement.on_conflict_do_update(
            index_elements=_KEY,
            set_={"cells": SourceDayCount.cells + statement.excluded.cells},
        )
        # In key order: two transactions lock shared count rows in the same order.
        session.execute(
            upsert,
            [
                {
                    "project_id": project_id,
                    "day": day,
                    "has_dataset": has_dataset,
                    "dataset": dataset,
                    "cells": n,
                }
                for (day, has_dataset, dataset), n in sorted(deltas.items())
            ],
        )


def add_source_cells(session: Session, project_id: int, name: str, dataset: str | None) -> None:
    """A source ``name`` of ``dataset`` now exists: its cells count. Call after its row is
    written (and flushed), in the same transaction."""
    _shift_source(session, project_id, name, dataset, +1)


def remove_source_cells(session: Session, project_id: int, name: str, dataset: str | None) -> None:
    """The source ``name`` of ``dataset`` is gone (its row deleted and flushed, or renamed,
    or given another dataset): its cells no longer count under that name and dataset."""
    _shift_source(session, project_id, name, dataset, -1)


def cells_between(
    session: Session, project_id: int, start: date, end: date, dataset: str | None
) -> int:
    """How many cells of ``[start, end]`` (of sources of ``dataset``) the status lists show."""
    total = session.scalar(
        select(func.coalesce(func.sum(SourceDayCount.cells), 0)).where(
            *_range(project_id, start, end, dataset)
        )
    )
    return int(total or 0)


def page_start(
    session: Session, project_id: int, start: date, end: date, dataset: str | None, offset: int
) -> PageStart | None:
    """Where the cell at ``offset`` (in day, then source name order) of ``[start, end]`` is;
    None past the last cell."""
    per_day = (
        select(SourceDayCount.day, func.sum(SourceDayCount.cells).label("cells"))
        .where(*_range(project_id, start, end, dataset))
        .group_by(SourceDayCount.day)
        .subquery()
    )
    through = func.sum(per_day.c.cells).over(order_by=per_day.c.day)
    running = select(
        per_day.c.day, (through - per_day.c.cells).label("before"), through.label("through")
    ).subquery()
    found = session.execute(
        select(running.c.day, running.c.before)
        .where(running.c.through > offset)
        .order_by(running.c.day)
        .limit(1)
    ).first()
    if found is None:
        return None
    day, before = found
    return PageStart(day, offset - int(before))


_KEY = [
    SourceDayCount.project_id,
    SourceDayCount.day,
    SourceDayCount.has_dataset,
    SourceDayCount.dataset,
]


def _range(
    project_id: int, start: date, end: date, dataset: str | None
) -> list[ColumnElement[bool]]:
    where = [
        SourceDayCount.project_id == project_id,
        SourceDayCount.day >= start,
        SourceDayCount.day <= end,
    ]
    if dataset is not None:
        # As the status filter: a dataset filter never matches a source without one.
        where += [SourceDayCount.has_dataset.is_(True), SourceDayCount.dataset == dataset]
    return where


def _shift_source(
    session: Session, project_id: int, name: str, dataset: str | None, sign: int
) -> None:
    _lock(session, project_id, "pg_advisory_xact_lock")
    cells = (
        select(
            SourceDay.project_id,
            SourceDay.day,
            literal(dataset is not None, Boolean),
            literal(dataset or "", String(32)),
            func.count() * literal(sign, BigInteger),
        )
        .where(SourceDay.project_id == project_id, SourceDay.source_name == name)
        .group_by(SourceDay.project_id, SourceDay.day)
        .order_by(SourceDay.day)  # count rows locked in key order (one dataset: by day)
    )
    statement = upsert_for(session)(SourceDayCount).from_select(
        ["project_id", "day", "has_dataset", "dataset", "cells"], cells
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=_KEY,
            set_={"cells": SourceDayCount.cells + statement.excluded.cells},
        )
    )


def _lock(session: Session, project_id: int, function: str) -> None:
    # SQLite writers are serialised already (BEGIN IMMEDIATE): only PostgreSQL needs a lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(f"SELECT {function}(:kind, :project_id)"),
            {"kind": CELLS_LOCK_CLASS, "project_id": project_id},
        )
