"""Read models of runs and units, as every front end shows them.

Each is built (``of``) from the stored row it reads: the rows' shapes are the protocols below,
which the store's tables have, so the models do not depend on how the store keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from ingestd.domain.counts import Counts
from ingestd.domain.states import RunState, UnitState, derive_run_state
from ingestd.errors import FailureClass


class StatusEventRow(Protocol):
    @property
    def at(self) -> datetime: ...
    @property
    def state(self) -> str: ...
    @property
    def unit_id(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...


class RunEventRow(StatusEventRow, Protocol):
    """A status change with the run it belongs to (what a page of runs groups by)."""

    @property
    def run_id(self) -> str: ...


class CountedRow(Protocol):
    @property
    def read(self) -> int: ...
    @property
    def inserted(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def errors(self) -> int: ...


class UnitFileRow(CountedRow, Protocol):
    @property
    def position(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def skipped(self) -> bool: ...


class UnitRow(CountedRow, Protocol):
    @property
    def id(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def source_name(self) -> str | None: ...
    @property
    def day(self) -> date | None: ...
    @property
    def blob_url(self) -> str | None: ...
    @property
    def blob_source_id(self) -> str | None: ...
    @property
    def table_name(self) -> str: ...
    @property
    def load_key(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def failure_status(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def updated_at(self) -> datetime: ...


class RunRow(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def project_id(self) -> int: ...
    @property
    def trigger(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def days(self) -> list[Any]: ...
    @property
    def source_names(self) -> list[Any]: ...
    @property
    def cancel_requested(self) -> bool: ...
    @property
    def request(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def origin(self) -> str | None: ...


def _counts(row: CountedRow) -> Counts:
    return Counts(row.read, row.inserted, row.updated, row.rejected, row.errors)


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    state: str
    unit_id: str | None
    message: str | None

    @classmethod
    def of(cls, event: StatusEventRow) -> HistoryEntry:
        return cls(event.at, event.state, event.unit_id, event.message)


@dataclass(frozen=True)
class FileView:
    name: str
    counts: Counts
    skipped: bool


@dataclass
class UnitView:
    id: str
    run_id: str
    position: int
    source_name: str | None
    day: date | None
    blob_url: str | None
    blob_source_id: str | None
    table: str
    load_key: str
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
    updated_at: datetime
    files: list[FileView] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    @classmethod
    def of(cls, unit: UnitRow, files: Sequence[UnitFileRow] | None = None) -> UnitView:
        return cls(
            id=unit.id,
            run_id=unit.run_id,
            position=unit.position,
            source_name=unit.source_name,
            day=unit.day,
            blob_url=unit.blob_url,
            blob_source_id=unit.blob_source_id,
            table=unit.table_name,
            load_key=unit.load_key,
            state=UnitState(unit.state),
            attempt=unit.attempt,
            max_attempts=unit.max_attempts,
            error_code=unit.error_code,
            error_message=unit.error_message,
            failure_status=FailureClass(unit.failure_status) if unit.failure_status else None,
            counts=_counts(unit),
            created_at=unit.created_at,
            started_at=unit.started_at,
            ended_at=unit.ended_at,
            updated_at=unit.updated_at,
            files=[
                FileView(f.name, _counts(f), f.skipped)
                for f in sorted(files or [], key=lambda f: f.position)
            ],
        )


@dataclass
class RunView:
    id: str
    project_id: int
    trigger: str
    kind: str
    state: RunState
    days: list[str]
    sources: list[str]
    cancel_requested: bool
    request: dict[str, object]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    origin: str | None = None
    units: list[UnitView] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def counts(self) -> Counts:
        total = Counts()
        for unit in self.units:
            total.add(unit.counts)
        return total

    @classmethod
    def of(cls, run: RunRow, units: list[UnitView]) -> RunView:
        """A run's view; its state is derived from its units, never read from storage."""
        return cls(
            id=run.id,
            project_id=run.project_id,
            trigger=run.trigger,
            kind=run.kind,
            state=derive_run_state([u.state for u in units], cancel_requested=run.cancel_requested),
            days=list(run.days),
            sources=list(run.source_names),
            cancel_requested=run.cancel_requested,
            request=dict(run.request),
            created_at=run.created_at,
            updated_at=run.updated_at,
            ended_at=run.ended_at,
            origin=run.origin,
            units=units,
        )
