"""Metadata tables (SQLAlchemy 2). Changes go through an Alembic migration, never create_all.

What a unit loaded (rows, quarantine, ledger) lives in the destination, next to the data, so it
commits with the data; this store keeps everything about configuration and execution.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the metadata store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Keys are shown once; only a SHA-256 of the whole key is kept, found by its prefix."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    """When the key last authenticated a request (to the minute: see ``Access``)."""


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sealed_secrets: Mapped[str | None] = mapped_column(Text, default=None)
    """The connection's secrets as one JSON object, Fernet-encrypted (``store.secret_box``);
    None when it has none. Never returned by the API or the CLI, never logged."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TableDef(Base):
    __tablename__ = "tables"
    __table_args__ = (UniqueConstraint("project_id", "namespace", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    namespace: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MappingDef(Base):
    """Named mappings of a table (Kusto `.create table T ingestion csv mapping "name"`)."""

    __tablename__ = "mappings"
    __table_args__ = (UniqueConstraint("table_id", "name", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="RESTRICT"), default=None
    )
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="RESTRICT"))
    dataset: Mapped[str | None] = mapped_column(String(32), default=None)
    path_template: Mapped[str | None] = mapped_column(Text, default=None)
    query: Mapped[str | None] = mapped_column(Text, default=None)
    read_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mapping: Mapped[list[Any]] = mapped_column(default=list)
    column_mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """The Statsig wire form, kept to echo it back as given."""
    load_mode: Mapped[str] = mapped_column(String(16), default="append")
    error_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule_hour_pst: Mapped[int | None] = mapped_column(Integer, default=None)
    api_triggered: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("project_id", "idempotency_key"),
        Index("ix_runs_project_created", "project_id", "created_at"),
        Index("ix_runs_project_origin", "project_id", "origin"),
        # The dialects' run lists: one kind of the project's runs, newest first; the count
        # scans the narrow one, a page's ids the one in the lists' order (migration 0015).
        Index("ix_runs_project_kind_created", "project_id", "kind", "created_at"),
        Index("ix_runs_project_kind_newest", "project_id", "kind", text("created_at DESC"), "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    days: Mapped[list[Any]] = mapped_column(default=list)
    source_names: Mapped[list[Any]] = mapped_column(default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    origin: Mapped[str | None] = mapped_column(String(16), default=None)
    """``domain.origins.RunOrigin``: the front end the run was asked for through."""


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        Index("ix_units_due", "state", "next_attempt_at"),
        # A project's units of one source and day, newest last (status reads, their backfill).
        Index("ix_units_project_source_day", "project_id", "source_name", "day", "created_at"),
        # Amperity's ingest jobs: the units that started in a window.
        Index("ix_units_project_started", "project_id", "started_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), default=None, index=True
    )
    source_name: Mapped[str | None] = mapped_column(String(128), default=None)
    day: Mapped[date | None] = mapped_column(Date, default=None)
    blob_url: Mapped[str | None] = mapped_column(Text, default=None)
    blob_source_id: Mapped[str | None] = mapped_column(String(64), default=None)
    table_name: Mapped[str] = mapped_column(String(130))
    load_key: Mapped[str] = mapped_column(String(512))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    """Asked while the unit ran: its worker stops it before the commit if it still can."""
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    """INGESTD_EXECUTOR=celery: when this unit's task was last sent to the broker (cleared when
    a worker claims it), so the dispatcher sends each due unit once and resends only a lost
    one."""
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    failure_status: Mapped[str | None] = mapped_column(String(16), default=None)
    read: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceDay(Base):
    """The newest unit of each source and day of a project: the cell of the daily status.

    Kept by ``Runs.create_run`` in the transaction that adds the units, so a status read is
    an index range scan over one row per source and day instead of a search for the newest
    of every day's units (1,000 sources x 1,000 days answer in milliseconds).
    """

    __tablename__ = "source_days"
    __table_args__ = (
        # unit_id included (PostgreSQL): a status page's ids are an index-only scan (0015).
        Index(
            "ix_source_days_day", "project_id", "day", "source_name", postgresql_include=["unit_id"]
        ),
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    source_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column()
    position: Mapped[int] = mapped_column(Integer)
    """With ``created_at``: which unit is newer (the later of one run's units wins)."""


class SourceDayCount(Base):
    """How many ``source_days`` cells of one project and day belong to a source of one
    dataset that exists now: the status lists' total and deep-page position read these
    (O(days)) instead of counting cells (``store.status_counts`` keeps them, migration 0016).

    A source without a dataset counts under ``has_dataset`` false and ``dataset`` ''
    (a key column cannot be NULL; the flag keeps it apart from a dataset named '').
    """

    __tablename__ = "source_day_counts"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    has_dataset: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(32), primary_key=True)
    cells: Mapped[int] = mapped_column(BigInteger)


class RunCount(Base):
    """How many runs a project has of one kind through one origin: the run lists' totals read
    these instead of counting the runs (``store.run_counts`` keeps them, migration 0017).
    Runs are never deleted, so a count only grows. A run without an origin counts under
    ``origin`` '' (a key column cannot be NULL; no ``RunOrigin`` is empty)."""

    __tablename__ = "run_counts"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    origin: Mapped[str] = mapped_column(String(16), primary_key=True)
    runs: Mapped[int] = mapped_column(BigInteger)


class UnitFile(Base):
    __tablename__ = "unit_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    read: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)


class StatusEvent(Base):
    """Append-only history of every unit and run transition; never updated or deleted."""

    __tablename__ = "status_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    state: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str | None] = mapped_column(Text, default=None)


class DatasetSchedule(Base):
    """Statsig's per-dataset daily hour (PST) for scheduled imports (API-SURFACE §1.4 #11-12)."""

    __tablename__ = "dataset_schedules"
    __table_args__ = (UniqueConstraint("project_id", "dataset"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    dataset: Mapped[str] = mapped_column(String(32))
    hour_pst: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdempotentResponse(Base):
    """The first answer to a request sent with an ``Idempotency-Key``; repeats get it back.

    The row is inserted pending first (the unique constraint picks one winner), then answered.
    """

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("project_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    # Both None while the request that claimed the key is still running (a pending claim).
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthClient(Base):
    """Client-credentials pairs (Amperity ``/api/v0/oauth2/token``); the secret is stored hashed."""

    __tablename__ = "oauth_clients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AccessToken(Base):
    """Short-lived bearer tokens minted for OAuth clients; only a SHA-256 is kept."""

    __tablename__ = "access_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StreamRecord(Base):
    """A record accepted by a streaming endpoint: durable from the moment it is acknowledged,
    until a flush writes it into a file that a run loads."""

    __tablename__ = "stream_records"
    __table_args__ = (Index("ix_stream_records_pending", "project_id", "stream_id", "run_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    stream_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_id: Mapped[str | None] = mapped_column(String(36), default=None)
    """Set when the record was flushed into a run's file."""


class ProjectFileGrant(Base):
    """A directory the operator granted to one project (``ingestd projects grant``), besides
    its own ``<data dir>/files/<project>/``."""

    __tablename__ = "project_file_grants"
    __table_args__ = (UniqueConstraint("project_id", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KustoQueueMessage(Base):
    """A message of a project's Kusto notification queue (Azure Queue semantics: invisible
    until ``visible_at`` once received, deleted with its ``pop_receipt``)."""

    __tablename__ = "kusto_queue_messages"
    __table_args__ = (Index("ix_kusto_queue_messages_due", "project_id", "queue", "visible_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    queue: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    inserted_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    visible_at: Mapped[datetime] = mapped_column()
    pop_receipt: Mapped[str] = mapped_column(String(36))
    dequeue_count: Mapped[int] = mapped_column(Integer, default=0)


class KustoQueuedBlob(Base):
    """A blob queued through the Kusto ready-for-aggregation queue: what its notification
    says once its unit ends, and ingestd's own upload to remove."""

    __tablename__ = "kusto_queued_blobs"
    __table_args__ = (Index("ix_kusto_queued_blobs_open", "reported", "project_id"),)
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    operation_id: Mapped[str] = mapped_column(String(160))
    database: Mapped[str] = mapped_column(String(128))
    table_name: Mapped[str] = mapped_column(String(128))
    source_id: Mapped[str] = mapped_column(String(64))
    source_path: Mapped[str] = mapped_column(Text)
    report_level: Mapped[str] = mapped_column(String(4))
    upload: Mapped[str | None] = mapped_column(Text, default=None)
    reported: Mapped[bool] = mapped_column(Boolean, default=False)
    report_method: Mapped[str] = mapped_column(String(4), default="0", server_default="0")
    status_partition_key: Mapped[str | None] = mapped_column(String(1024), default=None)
    status_row_key: Mapped[str | None] = mapped_column(String(1024), default=None)


class DashboardSession(Base):
    """A signed-in dashboard browser. The cookie holds a random token; only its SHA-256 is
    kept here (a leaked table signs nobody in). The key itself is never stored: ``key_id``
    points at it so that revoking the key ends its sessions."""

    __tablename__ = "dashboard_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)


class KustoStatusEntity(Base):
    """An entity of a project's Kusto status table (Azure Table semantics: keyed by
    PartitionKey and RowKey, replaced or merged under an ETag)."""

    __tablename__ = "kusto_status_entities"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    partition_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    row_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    properties: Mapped[str] = mapped_column(Text)
    """The entity's other properties, JSON (with their ``@odata.type`` annotations)."""
    etag: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column()


class StoredPayload(Base):
    """Bytes the API accepted (a Kusto upload, or one uncommitted block of one), kept in the
    metadata database so that a unit running on any machine can read them. A payload is
    visible only once ``complete``: its chunks are written first, then the flag flips in one
    transaction, so a crash mid-upload leaves nothing a reader sees."""

    __tablename__ = "stored_payloads"
    __table_args__ = (
        Index("ix_stored_payloads_lookup", "project_id", "kind", "name", "block", "complete"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(1024))
    block: Mapped[str] = mapped_column(String(64), default="")
    """Empty for a whole payload; the block's key for an uncommitted block of ``name``."""
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    written_at: Mapped[datetime] = mapped_column()
    """When it was begun, then when it became complete (what retention counts from)."""


class PayloadChunk(Base):
    """One chunk (at most ``store.payloads.CHUNK_BYTES``) of a stored payload, in order."""

    __tablename__ = "payload_chunks"
    payload_id: Mapped[int] = mapped_column(
        ForeignKey("stored_payloads.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
