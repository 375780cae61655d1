"""Read models of runs and units, built from the store for every front end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from ingestd.dataplane.contract import Counts
from ingestd.domain.states import RunState, UnitState, derive_run_state
from ingestd.errors import FailureClass
from ingestd.store.schema import Run, StatusEvent, Unit, UnitFile


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    state: str
    unit_id: str | None
    message: str | None

    @classmethod
    def of(cls, event: StatusEvent) -> HistoryEntry:
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
    def of(cls, unit: Unit, files: list[UnitFile] | None = None) -> UnitView:
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
            counts=Counts(unit.read, unit.inserted, unit.updated, unit.rejected, unit.errors),
            created_at=unit.created_at,
            started_at=unit.started_at,
            ended_at=unit.ended_at,
            updated_at=unit.updated_at,
            files=[
                FileView(
                    f.name, Counts(f.read, f.inserted, f.updated, f.rejected, f.errors), f.skipped
                )
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
    def of(cls, run: Run, units: list[UnitView]) -> RunView:
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
