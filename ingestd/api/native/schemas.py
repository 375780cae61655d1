"""Wire models of the native API: what ``/ingestd/v1/`` accepts and answers.

Request bodies forbid unknown fields (a typo is a 400 naming the field, not a silent no-op).
Answers are built from the control layer's views with ``of``; they never carry a secret: keys
are listed by prefix, connections by their non-secret settings and ``has_secrets``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ingestd.control.access import KeyInfo, KeyKind, ProjectView
from ingestd.control.catalog import ConnectionView, SourceView
from ingestd.control.daily_status import StatusGrid
from ingestd.control.quarantine import QuarantinedRow, ReplayResult
from ingestd.control.readiness import ReadinessReport
from ingestd.control.run_views import FileView, HistoryEntry, RunView, UnitView
from ingestd.dataplane.contract import Counts
from ingestd.domain.previews import (
    DEFAULT_PREVIEW_ROWS,
    MAX_PREVIEW_ROWS,
    PreviewError,
    SourcePreview,
    json_value,
)
from ingestd.domain.states import RunState, UnitState
from ingestd.domain.tables import TableSpec
from ingestd.domain.workers import WorkerCensus


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


# -- errors -----------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable error code, e.g. NOT_FOUND, VALIDATION_ERROR")
    message: str = Field(description="What went wrong, and where")
    hint: str | None = Field(description="What to do about it, when there is something to do")
    field: str | None = Field(description="The request field at fault, e.g. limit or body.kind")


class ErrorBody(BaseModel):
    """Every error of the native API."""

    error: ErrorDetail


# -- projects and keys ------------------------------------------------------------------------


class Project(BaseModel):
    name: str
    created_at: datetime

    @classmethod
    def of(cls, view: ProjectView) -> Project:
        return cls(name=view.name, created_at=view.created_at)


class ProjectList(BaseModel):
    data: list[Project]


class KeyCreate(Body):
    kind: KeyKind = Field(description="console, ingest or read (DESIGN: key kinds)")


class Key(BaseModel):
    prefix: str = Field(description="The non-secret start of the key; revoke by it")
    kind: KeyKind
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When the key last authenticated, to the minute; null if never"
    )
    revoked_at: datetime | None

    @classmethod
    def of(cls, view: KeyInfo) -> Key:
        return cls(
            prefix=view.prefix,
            kind=view.kind,
            created_at=view.created_at,
            last_used_at=view.last_used_at,
            revoked_at=view.revoked_at,
        )


class KeyCreated(BaseModel):
    key: str = Field(description="The key itself: shown this once, never again")
    prefix: str
    kind: KeyKind
    project: str


class KeyList(BaseModel):
    data: list[Key]


# -- connections, tables, sources -------------------------------------------------------------


class ConnectionCreate(Body):
    name: str = Field(min_length=1, max_length=128)
    kind: str = Field(description="file, s3, adls, gcs or a SQL kind (postgres, mysql, ...)")
    config: dict[str, JsonValue] = Field(default_factory=dict)
    secrets: dict[str, JsonValue] = Field(
        default_factory=dict, description="Stored apart, never returned"
    )


class Connection(BaseModel):
    name: str
    kind: str
    config: dict[str, JsonValue]
    has_secrets: bool

    @classmethod
    def of(cls, view: ConnectionView) -> Connection:
        return cls(name=view.name, kind=view.kind, config=view.config, has_secrets=view.has_secrets)


class ConnectionList(BaseModel):
    data: list[Connection]


class Column(BaseModel):
    name: str
    type: str
    nullable: bool
    max_length: int | None


class Table(BaseModel):
    name: str = Field(description="namespace.name")
    namespace: str
    columns: list[Column]
    primary_key: list[str]

    @classmethod
    def of(cls, spec: TableSpec) -> Table:
        return cls(
            name=spec.qualified_name,
            namespace=spec.namespace,
            columns=[
                Column(name=c.name, type=c.type.value, nullable=c.nullable, max_length=c.max_length)
                for c in spec.columns
            ],
            primary_key=list(spec.primary_key),
        )


class TableList(BaseModel):
    data: list[Table]


class Source(BaseModel):
    name: str
    table: str
    connection: str | None
    dataset: str | None
    path_template: str | None
    query: str | None
    load_mode: str
    schedule_hour_pst: int | None
    api_triggered: bool
    enabled: bool

    @classmethod
    def of(cls, view: SourceView) -> Source:
        return cls(
            name=view.name,
            table=view.table,
            connection=view.connection,
            dataset=view.dataset,
            path_template=view.path_template,
            query=view.query,
            load_mode=view.load_mode.value,
            schedule_hour_pst=view.schedule_hour_pst,
            api_triggered=view.api_triggered,
            enabled=view.enabled,
        )


class SourceList(BaseModel):
    data: list[Source]


class SourceDraftPreview(Body):
    """A source definition to preview before it is saved (the fields of a source), with the
    day and the number of records to read."""

    table: str = Field(description="namespace.name of an existing table")
    connection: str | None = None
    path_template: str | None = Field(default=None, description="Files of a day ({ds})")
    query: str | None = Field(default=None, description="SQL of a day, on a SQL connection")
    read_options: dict[str, JsonValue] | None = Field(
        default=None, description="format, compression, header, delimiter, quote, ..."
    )
    mapping: list[JsonValue] | None = Field(
        default=None,
        description="Kusto-style ingestion mapping (Column, Properties.Ordinal|Path|...); "
        "default: the table's columns by name",
    )
    load_mode: Literal["append", "upsert", "replace_day"] = "append"
    error_policy: dict[str, JsonValue] | None = None
    day: date
    limit: int = Field(default=DEFAULT_PREVIEW_ROWS, ge=1, le=MAX_PREVIEW_ROWS)


PreviewValue = str | int | float | bool | None
"""A typed value as JSON: dates and timestamps as ISO-8601 text (timestamps in UTC, with Z),
JSON columns as their JSON text."""


class PreviewColumnOut(BaseModel):
    name: str
    type: str = Field(description="The table column's type (BIGINT, VARCHAR, TIMESTAMP...)")


class PreviewErrorOut(BaseModel):
    file: str | None
    line: int | None = Field(description="The file's line, for records the reader refused")
    record: int | None = Field(description="The record's number in its file (typing errors)")
    column: int | None = Field(
        description="1-based position in the record of the file column field was read from"
    )
    field: str | None
    code: str = Field(description="The row-error code quarantine would record")
    message: str
    raw: str | None = Field(description="The raw record, cut to 1000 characters")

    @classmethod
    def of(cls, error: PreviewError) -> PreviewErrorOut:
        return cls(
            file=error.file,
            line=error.line,
            record=error.record,
            column=error.column,
            field=error.field,
            code=error.code,
            message=error.message,
            raw=error.raw,
        )


class SourcePreviewOut(BaseModel):
    """The first input records of a source's day, mapped, typed and validated; nothing was
    committed."""

    source: str
    day: date
    table: str
    columns: list[PreviewColumnOut]
    rows: list[list[PreviewValue]] = Field(description="Typed rows, values in columns order")
    errors: list[PreviewErrorOut]
    files: list[str]
    rows_read: int = Field(description="Input records read: rows plus errors")
    truncated: bool = Field(description="The source has more records than the limit")

    @classmethod
    def of(cls, preview: SourcePreview) -> SourcePreviewOut:
        return cls(
            source=preview.source,
            day=preview.day,
            table=preview.table,
            columns=[PreviewColumnOut(name=c.name, type=c.type) for c in preview.columns],
            rows=[[json_value(v) for v in row] for row in preview.rows],
            errors=[PreviewErrorOut.of(e) for e in preview.errors],
            files=list(preview.files),
            rows_read=preview.rows_read,
            truncated=preview.truncated,
        )


# -- runs and units ---------------------------------------------------------------------------


class RowCounts(BaseModel):
    """``read = inserted + updated + rejected + errors`` (DESIGN: row accounting)."""

    read: int
    inserted: int
    updated: int
    rejected: int
    errors: int

    @classmethod
    def of(cls, counts: Counts) -> RowCounts:
        return cls(
            read=counts.read,
            inserted=counts.inserted,
            updated=counts.updated,
            rejected=counts.rejected,
            errors=counts.errors,
        )


class FileOut(BaseModel):
    name: str
    counts: RowCounts
    skipped: bool

    @classmethod
    def of(cls, view: FileView) -> FileOut:
        return cls(name=view.name, counts=RowCounts.of(view.counts), skipped=view.skipped)


class HistoryOut(BaseModel):
    at: datetime
    state: str
    message: str | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryOut:
        return cls(at=entry.at, state=entry.state, message=entry.message)


class UnitError(BaseModel):
    code: str
    message: str | None
    failure_class: str | None = Field(description="Permanent, Transient or Exhausted")


class Attempts(BaseModel):
    made: int
    allowed: int


class Unit(BaseModel):
    id: str
    run_id: str
    position: int
    source: str | None
    day: date | None
    blob_url: str | None
    table: str
    state: UnitState
    attempts: Attempts
    error: UnitError | None
    counts: RowCounts
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    files: list[FileOut]
    history: list[HistoryOut]

    @classmethod
    def of(cls, view: UnitView) -> Unit:
        return cls(
            id=view.id,
            run_id=view.run_id,
            position=view.position,
            source=view.source_name,
            day=view.day,
            blob_url=view.blob_url,
            table=view.table,
            state=view.state,
            attempts=Attempts(made=view.attempt, allowed=view.max_attempts),
            error=UnitError(
                code=view.error_code,
                message=view.error_message,
                failure_class=view.failure_status.value if view.failure_status else None,
            )
            if view.error_code
            else None,
            counts=RowCounts.of(view.counts),
            created_at=view.created_at,
            started_at=view.started_at,
            ended_at=view.ended_at,
            files=[FileOut.of(f) for f in view.files],
            history=[HistoryOut.of(h) for h in view.history],
        )


class RunSummary(BaseModel):
    id: str
    state: RunState
    trigger: str
    kind: str
    origin: str | None = Field(description="statsig, amperity, kusto, native, cli or scheduler")
    days: list[str]
    sources: list[str]
    unit_count: int
    counts: RowCounts
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, view: RunView) -> RunSummary:
        return cls(
            id=view.id,
            state=view.state,
            trigger=view.trigger,
            kind=view.kind,
            origin=view.origin,
            days=view.days,
            sources=view.sources,
            unit_count=len(view.units),
            counts=RowCounts.of(view.counts),
            cancel_requested=view.cancel_requested,
            created_at=view.created_at,
            updated_at=view.updated_at,
            ended_at=view.ended_at,
        )


class RunDetail(RunSummary):
    """A run with its units, each with its files, attempts and history."""

    units: list[Unit]
    history: list[HistoryOut] = Field(description="The run's own transitions, oldest first")

    @classmethod
    def of(cls, view: RunView) -> RunDetail:
        summary = RunSummary.of(view)
        return cls(
            **summary.model_dump(),
            units=[Unit.of(u) for u in view.units],
            history=[HistoryOut.of(h) for h in view.history],
        )


class RunPage(BaseModel):
    data: list[RunSummary]
    total: int = Field(description="How many runs match the filters, on every page")
    cursor: str | None = Field(description="Send as ?cursor= for the next page; null: last page")
    next: str | None = Field(description="The next page's URL (path and query); null: last page")


class RunStart(Body):
    """Which days a source's run loads: one ``day``, or ``start`` to ``end`` (a backfill)."""

    day: date | None = Field(default=None, description="One day (trigger manual)")
    start: date | None = Field(default=None, description="First day of a backfill")
    end: date | None = Field(default=None, description="Last day of a backfill, inclusive")


# -- per-day status ---------------------------------------------------------------------------


class DayStatus(BaseModel):
    day: date
    state: UnitState
    trigger: str
    run_id: str
    unit_id: str
    counts: RowCounts
    error_code: str | None
    updated_at: datetime


class SourceDays(BaseModel):
    source: str
    days: list[DayStatus] = Field(description="Days with a unit, oldest first")


class StatusGridOut(BaseModel):
    days: list[date] = Field(description="The columns of the grid: every day asked for")
    data: list[SourceDays] = Field(description="The rows: one per source, by name")
    cursor: str | None
    next: str | None

    @classmethod
    def of(cls, grid: StatusGrid, cursor: str | None, next_url: str | None) -> StatusGridOut:
        return cls(
            days=grid.days,
            data=[
                SourceDays(
                    source=row.source,
                    days=[
                        DayStatus(
                            day=cell.day,
                            state=cell.unit.state,
                            trigger=cell.trigger,
                            run_id=cell.unit.run_id,
                            unit_id=cell.unit.id,
                            counts=RowCounts.of(cell.unit.counts),
                            error_code=cell.unit.error_code,
                            updated_at=cell.unit.updated_at,
                        )
                        for cell in row.cells
                    ],
                )
                for row in grid.rows
            ],
            cursor=cursor,
            next=next_url,
        )


# -- quarantine -------------------------------------------------------------------------------


class QuarantineRow(BaseModel):
    id: int
    table: str
    run_id: str | None
    unit_id: str | None
    file: str | None
    line: int | None
    record: int | None
    column: str | None
    code: str
    message: str | None
    raw: str | None
    quarantined_at: datetime | None

    @classmethod
    def of(cls, row: QuarantinedRow) -> QuarantineRow:
        return cls(
            id=row.id,
            table=row.table,
            run_id=row.run_id,
            unit_id=row.unit_id,
            file=row.file,
            line=row.line,
            record=row.record,
            column=row.column,
            code=row.code,
            message=row.message,
            raw=row.raw,
            quarantined_at=row.quarantined_at,
        )


class QuarantinePage(BaseModel):
    data: list[QuarantineRow]
    total: int
    cursor: str | None
    next: str | None


class ReplayRequest(Body):
    table: str = Field(description="namespace.name whose quarantined rows to load again")
    unit_id: str | None = Field(default=None, description="Only the rows of this unit")


class Replay(BaseModel):
    replayed: int
    loaded: int
    still_failing: int
    not_replayable: int

    @classmethod
    def of(cls, result: ReplayResult) -> Replay:
        return cls(
            replayed=result.replayed,
            loaded=result.loaded,
            still_failing=result.still_failing,
            not_replayable=result.not_replayable,
        )


# -- readiness --------------------------------------------------------------------------------


class CheckOut(BaseModel):
    name: str
    ok: bool
    code: str | None


class ReadinessOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: list[CheckOut]

    @classmethod
    def of(cls, report: ReadinessReport) -> ReadinessOut:
        return cls(
            status="ready" if report.ready else "not_ready",
            checks=[CheckOut(name=c.name, ok=c.ok, code=c.code) for c in report.checks],
        )


# -- workers ----------------------------------------------------------------------------------


class WorkerOut(BaseModel):
    name: str = Field(description="A Celery worker's name, or a serve process's local pool")
    concurrency: int | None = Field(description="Units it runs at a time, if it said")
    running: int = Field(description="Units it holds live leases on now, of every project")
    answered: bool = Field(
        description="It answered the broker just now; false: known only by its leases"
    )


class WorkersOut(BaseModel):
    executor: str = Field(description="INGESTD_EXECUTOR: local or celery")
    broker_reachable: bool | None = Field(
        description="Celery: whether the broker answered; null with the local executor"
    )
    workers: list[WorkerOut]

    @classmethod
    def of(cls, census: WorkerCensus) -> WorkersOut:
        return cls(
            executor=census.executor,
            broker_reachable=census.broker_reachable,
            workers=[
                WorkerOut(
                    name=w.name, concurrency=w.concurrency, running=w.running, answered=w.answered
                )
                for w in census.workers
            ],
        )
