"""The one typed settings object. Built once at start (CLI entry, app factory) and passed down.

Every field reads from an ``INGESTD_``-prefixed environment variable; ``Settings.describe()``
lists them for the README and ``ingestd settings``. Nothing reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_POSTGRES_SCHEMES = ("postgresql+psycopg://", "postgresql://", "postgres://")


class Settings(BaseSettings):
    """Runtime configuration of one ingestd process."""

    model_config = SettingsConfigDict(env_prefix="INGESTD_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=Path(".ingestd"),
        description="Directory for the embedded metadata database, the DuckDB destination, "
        "spill files and staged downloads.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata store. Default: a SQLite file "
        "`<data_dir>/metadata.sqlite`. PostgreSQL: `postgresql+psycopg://user@host/db`.",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="PostgreSQL metadata: connections each process keeps open for reuse. "
        "Past them it opens up to INGESTD_DATABASE_POOL_OVERFLOW more, each closed after use.",
    )
    database_pool_overflow: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="PostgreSQL metadata: connections a process may open beyond "
        "INGESTD_DATABASE_POOL_SIZE while that many are busy; then requests wait for one.",
    )
    destination_url: str | None = Field(
        default=None,
        description="Where loaded data goes. Default: `duckdb:///<data_dir>/warehouse.duckdb`. "
        "PostgreSQL: `postgresql+psycopg://user[:password]@host[:port]/db`.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet keys that encrypt connection secrets and blob URL credentials in the "
        "metadata database, comma-separated: the first encrypts, all decrypt (rotation). "
        "Default: `<data_dir>/secret.key`, created with mode 0600 on first start. Set it when "
        "workers on other machines share the metadata database.",
    )
    workers: int = Field(
        default=2, ge=1, le=64, description="Units the local worker pool runs at the same time."
    )
    api_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes of `ingestd serve` that answer the API on its port (the first "
        "also runs the pool and the scheduler). More than 1 needs PostgreSQL metadata and "
        "destination. docs/deployment.md.",
    )
    executor: Literal["local", "celery"] = Field(
        default="local",
        description="Who runs units: `local` (the worker pool inside `ingestd serve`, nothing "
        "else to start) or `celery` (`ingestd worker` processes on any machine, fed through "
        "INGESTD_BROKER_URL; `serve` then only serves, schedules and dispatches). "
        "docs/deployment.md.",
    )
    broker_url: SecretStr | None = Field(
        default=None,
        description="Celery broker of INGESTD_EXECUTOR=celery: `redis://host:6379/0` or "
        "`amqp://user:password@host:5672//` (RabbitMQ). A secret: it may hold a password.",
    )
    broker_queue: str = Field(
        default="ingestd.units",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="INGESTD_EXECUTOR=celery: the broker queue units go through; give each "
        "ingestd deployment that shares a broker its own.",
    )
    broker_visibility_timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Redis broker: how long a task taken by a worker that then vanished stays "
        "invisible before Redis hands it out again. Only a redelivery delay: a unit is never run "
        "twice (its lease decides), and a unit whose worker died is dispatched again once its "
        "lease runs out, whatever this says.",
    )
    dispatch_interval_seconds: float = Field(
        default=0.5,
        gt=0,
        description="INGESTD_EXECUTOR=celery: how often the leading `serve` sends due units "
        "(new, retries whose backoff has passed, leases run out) to the broker.",
    )
    redispatch_seconds: float = Field(
        default=120.0,
        gt=0,
        description="INGESTD_EXECUTOR=celery: a unit sent to the broker but claimed by no "
        "worker for this long is sent again (its message was lost, e.g. in a broker restart "
        "without persistence). A second message for a unit is harmless: only one claim wins.",
    )
    retry_max_attempts: int = Field(
        default=4,
        ge=1,
        le=50,
        description="Attempts per unit for Transient failures (first try included) before the "
        "unit ends Exhausted.",
    )
    retry_base_seconds: float = Field(
        default=2.0, gt=0, description="Backoff before the second attempt; doubles each attempt."
    )
    retry_max_seconds: float = Field(
        default=300.0, gt=0, description="Upper bound of one backoff delay, before jitter."
    )
    lease_seconds: float = Field(
        default=60.0,
        ge=1,
        description="How long a worker's claim on a unit lasts without a heartbeat. After a crash "
        "a unit is picked up again once its lease has run out.",
    )
    memory_limit: str = Field(
        default="1GB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$",
        description="Memory budget of a process's data plane. DuckDB's buffers get this less "
        "256 MiB (Python and Arrow batches need the rest; half of a budget under 512 MiB), and "
        "larger inputs spill to `<data_dir>/spill`.",
    )
    host: str = Field(default="127.0.0.1", description="Address `ingestd serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `ingestd serve` binds to.")
    file_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated directories granted to EVERY project (file sources, "
        "`file://` URLs, database files), besides each project's own "
        "`<data_dir>/files/<project>/` and its grants (`ingestd projects grant`). Warning: "
        "every project can read them; prefer per-project grants. Directories that overlap "
        "the data directory are refused at start.",
    )
    fetch_allowed_networks: Annotated[
        tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode
    ] = Field(
        default=(),
        description="Comma-separated CIDRs exempted from the refusal of loopback and private "
        "addresses when fetching blob URLs and connecting to SQL sources' hosts, e.g. "
        "`127.0.0.0/8`.",
    )
    kusto_query_max_rows: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Most rows a Kusto query (`/v1/rest/query`, `/v2/rest/query`) answers; "
        "past it the result is truncated and says so (docs/kusto-queries.md).",
    )
    kusto_query_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A Kusto query running longer is stopped and answered with an error.",
    )
    blob_max_bytes: int = Field(
        default=6_442_450_944,
        ge=1,
        description="Largest blob a queued ingestion downloads (bytes); a larger one fails with "
        "BadRequest_FileTooLarge. Reported as `maxDataSize` by the Kusto configuration endpoint.",
    )
    max_decompressed_bytes: int = Field(
        default=64 * 1024**3,
        ge=1,
        description="Largest size (bytes) a compressed input (gzip, zstd, bz2, each zip member "
        "and a zip's members together) may expand to; past it the unit fails with "
        "DECOMPRESSION_LIMIT as soon as the limit is crossed. Default 64 GiB.",
    )
    max_compression_ratio: float = Field(
        default=200.0,
        gt=1,
        description="Largest ratio of decompressed to compressed bytes an input may have (gzip "
        "of real CSV is 5-20x, of very repetitive logs up to ~100x); checked as it decompresses, "
        "once 16 MiB have come out. Past it: DECOMPRESSION_LIMIT.",
    )
    max_archive_members: int = Field(
        default=10_000,
        ge=1,
        description="Most members a zip archive may hold; more fails with DECOMPRESSION_LIMIT.",
    )
    max_columns: int = Field(
        default=4096,
        ge=1,
        description="Most fields a record of an input file (a CSV's first record, a Parquet, "
        "Avro or ORC schema) and most columns a target table may have. Wider inputs fail with "
        "TOO_MANY_COLUMNS before they are read. Tables are held to a lower limit when the memory "
        "budget is small: about 2 columns per MiB DuckDB gets from INGESTD_MEMORY_LIMIT.",
    )
    fetch_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Blob downloads: seconds to wait for a connection or for the next bytes "
        "before the attempt fails as a (retried) Timeout.",
    )
    statsig_mutations_per_10s: int = Field(
        default=100, ge=1, description="Statsig dialect: mutations a project may make per 10 s."
    )
    statsig_mutations_per_15m: int = Field(
        default=900, ge=1, description="Statsig dialect: mutations a project may make per 15 min."
    )
    amperity_requests_per_second: int = Field(
        default=10,
        ge=1,
        description="Amperity dialect: requests a tenant may make per second (the vendor's 10).",
    )
    native_requests_per_10s: int = Field(
        default=1000,
        ge=1,
        description="Native API (/ingestd/v1): requests a project's keys may make per 10 s; "
        "past it the answer is 429 with Retry-After.",
    )
    data_check_lookback_days: int = Field(
        default=3,
        ge=0,
        le=60,
        description="Data checks reload a loaded day whose source count changed, for this many "
        "days after the day.",
    )
    data_check_threshold: float = Field(
        default=0.05,
        ge=0,
        description="Relative change of a day's source count (0.05 = 5 %) that triggers a reload.",
    )
    data_check_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the scheduler runs the data checks."
    )
    scheduler_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often the scheduler loop looks for due work."
    )
    oauth_token_seconds: int = Field(
        default=3600,
        ge=1,
        description="Amperity dialect: lifetime of an access token from POST /api/v0/oauth2/token.",
    )
    dashboard_session_hours: float = Field(
        default=12.0,
        gt=0,
        description="Dashboard: hours a sign-in lasts before the browser must sign in again "
        "(revoking the key ends its sessions at once).",
    )
    dashboard_trust_forwarded_proto: bool = Field(
        default=False,
        description="Dashboard: trust `X-Forwarded-Proto: https` from a TLS proxy in front of "
        "ingestd to mark the session cookie `Secure`. Only enable behind such a proxy.",
    )
    stream_flush_records: int = Field(
        default=1000,
        ge=1,
        description="Amperity streaming: a stream's pending records are written to a file and "
        "loaded once this many have arrived...",
    )
    stream_flush_seconds: float = Field(
        default=60.0,
        gt=0,
        description="...or once its oldest pending record is this old (checked by the scheduler "
        "loop).",
    )
    stream_max_record_bytes: int = Field(
        default=1 << 20,
        ge=1,
        description="Amperity streaming: largest record accepted (bytes); larger ones get 413.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines on standard error: `text`, or `json` (one object per line with "
        "timestamp, level, logger, message, request_id, project, run_id, unit_id when known). "
        "Secrets (keys, Authorization headers, SAS signatures) are redacted in both.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token `GET /metrics` requires (`Authorization: Bearer ...`). Unset: "
        "/metrics answers loopback clients only (it names every project and table).",
    )
    server_url: str | None = Field(
        default=None,
        description="CLI: the URL of a running ingestd server to send `run`, `runs`, "
        "`quarantine` and `status` to through the native API (with `INGESTD_API_KEY`). Unset: "
        "the data directory's own `ingestd serve` if one runs (server.json), else local.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="CLI: the key of the project (console or ingest) it sends to "
        "`INGESTD_SERVER_URL` / `--server` as `Authorization: Bearer`.",
    )
    amperity_strict_errors: bool = Field(
        default=False,
        description="Amperity dialect: error bodies carry only `status` and `message`, as the "
        "vendor's OpenAPI `ErrorResponse` says, without the documented `request_id`.",
    )
    public_url: str | None = Field(
        default=None,
        description="Kusto SDK storage: the URL clients reach ingestd at (e.g. "
        "`https://ingestd.example.com` behind a TLS proxy), used in the resource URLs of "
        "`.get ingestion resources`. Default: the scheme and host of each request.",
    )
    kusto_storage_key: SecretStr | None = Field(
        default=None,
        description="Kusto SDK storage: the key that signs the SAS tokens and identity tokens "
        "ingestd issues. Default: a random key kept in `<data_dir>/kusto-storage.key`; set it "
        "when several `serve` processes share one metadata database.",
    )
    kusto_upload_max_bytes: int = Field(
        default=1_073_741_824,
        ge=1,
        description="Kusto SDK storage: largest blob (bytes) a client may upload to a "
        "project's temporary container; larger uploads get 413.",
    )
    kusto_upload_retention_hours: float = Field(
        default=72.0,
        gt=0,
        description="Kusto SDK storage: hours an uploaded blob is kept when its ingestion did "
        "not succeed (or was never queued); a blob whose ingestion succeeded is deleted then.",
    )

    @field_validator("file_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(part.strip()) for part in value.split(",") if part.strip())
        return value

    @field_validator("fetch_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(
                ipaddress.ip_network(part.strip(), strict=False)
                for part in value.split(",")
                if part.strip()
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "must be a SQLAlchemy URL starting with sqlite:// or postgresql+psycopg://"
            )
        return value

    @field_validator("destination_url")
    @classmethod
    def _known_destination(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("duckdb:///", *_POSTGRES_SCHEMES)):
            raise ValueError(
                "must be duckdb:///<path> or postgresql+psycopg://user@host[:port]/database"
            )
        return value

    @model_validator(mode="after")
    def _absolute_data_dir(self) -> Settings:
        # Frozen model: resolve relative paths once so every layer sees the same directory.
        object.__setattr__(self, "data_dir", self.data_dir.expanduser().resolve())
        return self

    @property
    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'metadata.sqlite'}"

    @property
    def secret_key_file(self) -> Path:
        """Where the secret keys live when ``INGESTD_SECRET_KEY`` is unset."""
        return self.data_dir / "secret.key"

    @property
    def destination_kind(self) -> Literal["duckdb", "postgresql"]:
        url = self.destination_url
        return "postgresql" if url is not None and url.startswith(_POSTGRES_SCHEMES) else "duckdb"

    @property
    def destination_path(self) -> Path:
        """The DuckDB destination's file (``destination_kind == "duckdb"``)."""
        if self.destination_url is None:
            return self.data_dir / "warehouse.duckdb"
        return Path(self.destination_url.removeprefix("duckdb:///"))

    @property
    def allowed_file_roots(self) -> tuple[Path, ...]:
        """Deprecated: file access is per project (``control.file_access.FileAccess``); this is
        no longer consulted by any reader."""
        roots = self.file_roots or (self.data_dir / "files",)
        return tuple(root.expanduser().resolve() for root in roots)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(environment variable, default, description) for every setting."""
        rows = []
        for name, field in cls.model_fields.items():
            default = field.default
            shown = "" if default in (None, ()) else str(default)
            rows.append((f"INGESTD_{name.upper()}", shown, field.description or ""))
        return rows
