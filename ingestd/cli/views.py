"""What the CLI renders about runs, whether it read them here or from a running server.

A local command reads ``RunView`` and ``UnitView`` from the control layer; a remote one builds
``remote.convert`` views from the native API's answers. Both satisfy the protocols below (the
fields the tables and ``--json`` show), so the two paths print the same thing. A runs list
shows ``RunRow``s: the native list answers summaries (counts and a unit count, not the units).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from ingestd.control.run_views import FileView, HistoryEntry, RunView
from ingestd.dataplane.contract import Counts
from ingestd.domain.states import RunState, UnitState
from ingestd.errors import FailureClass


class UnitShown(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def source_name(self) -> str | None: ...
    @property
    def blob_url(self) -> str | None: ...
    @property
    def day(self) -> date | None: ...
    @property
    def table(self) -> str: ...
    @property
    def state(self) -> UnitState: ...
    @property
    def attempt(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def failure_status(self) -> FailureClass | None: ...
    @property
    def counts(self) -> Counts: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def files(self) -> Sequence[FileView]: ...
    @property
    def history(self) -> Sequence[HistoryEntry]: ...


class RunShown(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> RunState: ...
    @property
    def days(self) -> Sequence[str]: ...
    @property
    def sources(self) -> Sequence[str]: ...
    @property
    def cancel_requested(self) -> bool: ...
    @property
    def counts(self) -> Counts: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def units(self) -> Sequence[UnitShown]: ...
    @property
    def history(self) -> Sequence[HistoryEntry]: ...


@dataclass(frozen=True)
class RunRow:
    """One line of a runs list."""

    id: str
    trigger: str
    kind: str
    state: RunState
    days: tuple[str, ...]
    sources: tuple[str, ...]
    cancel_requested: bool
    counts: Counts
    unit_count: int
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, run: RunShown | RunView) -> RunRow:
        return cls(
            id=run.id,
            trigger=run.trigger,
            kind=run.kind,
            state=run.state,
            days=tuple(run.days),
            sources=tuple(run.sources),
            cancel_requested=run.cancel_requested,
            counts=run.counts,
            unit_count=len(run.units),
            created_at=run.created_at,
            updated_at=run.updated_at,
            ended_at=run.ended_at,
        )


class QuarantineShown(Protocol):
    """A quarantined row as ``quarantine list`` prints it (``QuarantinedRow`` here, the native
    API's ``QuarantineRow`` from a server)."""

    @property
    def id(self) -> int: ...
    @property
    def table(self) -> str: ...
    @property
    def run_id(self) -> str | None: ...
    @property
    def unit_id(self) -> str | None: ...
    @property
    def file(self) -> str | None: ...
    @property
    def line(self) -> int | None: ...
    @property
    def record(self) -> int | None: ...
    @property
    def column(self) -> str | None: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str | None: ...
    @property
    def raw(self) -> str | None: ...
    @property
    def quarantined_at(self) -> datetime | None: ...
