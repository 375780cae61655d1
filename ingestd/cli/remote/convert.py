"""Native API answers as the views the CLI renders (``cli.views``), field by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ingestd.api.native.schemas import HistoryOut, RowCounts, RunDetail, RunSummary, Unit
from ingestd.cli.views import RunRow
from ingestd.control.run_views import FileView, HistoryEntry
from ingestd.dataplane.contract import Counts
from ingestd.domain.states import RunState, UnitState
from ingestd.errors import FailureClass


@dataclass(frozen=True)
class RemoteUnit:
    id: str
    source_name: str | None
    blob_url: str | None
    day: date | None
    table: str
    state: UnitState
    attempt: int
    max_attempts: int
    error_code: str | None
    error_message: str | None
    failure_status: FailureClass | None
    counts: Counts
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    files: tuple[FileView, ...]
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class RemoteRun:
    id: str
    trigger: str
    kind: str
    state: RunState
    days: tuple[str, ...]
    sources: tuple[str, ...]
    cancel_requested: bool
    counts: Counts
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    units: tuple[RemoteUnit, ...]
    history: tuple[HistoryEntry, ...]


def counts(c: RowCounts) -> Counts:
    return Counts(c.read, c.inserted, c.updated, c.rejected, c.errors)


def _history(entries: list[HistoryOut], unit_id: str | None) -> tuple[HistoryEntry, ...]:
    # The wire leaves out the unit an entry belongs to: it is the unit it is listed under
    # (none for the run's own entries), as ``Runs.get_run`` sorts them.
    return tuple(HistoryEntry(e.at, e.state, unit_id, e.message) for e in entries)


def unit(u: Unit) -> RemoteUnit:
    return RemoteUnit(
        id=u.id,
        source_name=u.source,
        blob_url=u.blob_url,
        day=u.day,
        table=u.table,
        state=u.state,
        attempt=u.attempts.made,
        max_attempts=u.attempts.allowed,
        error_code=u.error.code if u.error else None,
        error_message=u.error.message if u.error else None,
        failure_status=FailureClass(u.error.failure_class)
        if u.error and u.error.failure_class
        else None,
        counts=counts(u.counts),
        created_at=u.created_at,
        started_at=u.started_at,
        ended_at=u.ended_at,
        files=tuple(FileView(f.name, counts(f.counts), f.skipped) for f in u.files),
        history=_history(u.history, u.id),
    )


def run(r: RunDetail) -> RemoteRun:
    return RemoteRun(
        id=r.id,
        trigger=r.trigger,
        kind=r.kind,
        state=r.state,
        days=tuple(r.days),
        sources=tuple(r.sources),
        cancel_requested=r.cancel_requested,
        counts=counts(r.counts),
        created_at=r.created_at,
        updated_at=r.updated_at,
        ended_at=r.ended_at,
        units=tuple(unit(u) for u in r.units),
        history=_history(r.history, None),
    )


def run_row(r: RunSummary) -> RunRow:
    return RunRow(
        id=r.id,
        trigger=r.trigger,
        kind=r.kind,
        state=r.state,
        days=tuple(r.days),
        sources=tuple(r.sources),
        cancel_requested=r.cancel_requested,
        counts=counts(r.counts),
        unit_count=r.unit_count,
        created_at=r.created_at,
        updated_at=r.updated_at,
        ended_at=r.ended_at,
    )
