"""Wires the control services together from one Settings object.

Front ends call only these services. The worker side (the unit runner and its pool) sits above
``control``: ``ingestd.services.Services`` adds it, and is what front ends build at start.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cached_property

from ingestd.control.access import Access
from ingestd.control.amperity.oauth import OAuth
from ingestd.control.amperity.streams import Streams
from ingestd.control.catalog import Catalog
from ingestd.control.daily_status import DailyStatus
from ingestd.control.dashboard_sessions import DashboardSessions
from ingestd.control.file_access import FileAccess
from ingestd.control.idempotency import Idempotency
from ingestd.control.kusto.mappings import Mappings
from ingestd.control.kusto.queries import KustoQueries
from ingestd.control.kusto.queued import QueuedIngestion
from ingestd.control.kusto.storage.queues import KustoQueues
from ingestd.control.kusto.storage.sas import Signer, load_key
from ingestd.control.kusto.storage.status_table import StatusTable
from ingestd.control.kusto.storage.uploads import KustoUploads
from ingestd.control.quarantine import Quarantine, QuarantineReplay
from ingestd.control.readiness import Readiness
from ingestd.control.run_search import RunSearch
from ingestd.control.runs import Runs
from ingestd.control.scheduler import Scheduler
from ingestd.control.source_inputs import SourceInputResolver
from ingestd.control.source_loads import SourceLoads
from ingestd.control.source_preview import SourcePreviews
from ingestd.control.statsig.data_checks import DataChecks
from ingestd.control.statsig.datasets import DatasetSources
from ingestd.control.status_grid import StatusGrids
from ingestd.control.work_signal import WorkSignal
from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.destinations.postgres.destination import (
    PostgresDestination,
    psycopg_conninfo,
)
from ingestd.dataplane.destinations.postgres.hosts import check_destination
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.preview import Previewer
from ingestd.dataplane.readers.decompress import DecompressionLimits
from ingestd.domain.clock import Clock, system_clock
from ingestd.domain.retry import RetryPolicy
from ingestd.domain.run_owners import RunOwnersSource
from ingestd.domain.unit_specs import FetchLimits
from ingestd.settings import Settings
from ingestd.store import work_notices
from ingestd.store.database import Store
from ingestd.store.run_owners import run_owners
from ingestd.store.secret_box import open_secret_box

log = logging.getLogger("ingestd")


def open_destination(settings: Settings, owners: RunOwnersSource) -> Destination:
    """The destination ``INGESTD_DESTINATION_URL`` names (DuckDB by default). ``owners`` (each
    run's project, from the metadata) lets it upgrade a destination of the layout before data
    per project."""
    spill = settings.data_dir / "spill"
    if settings.destination_kind == "postgresql":
        assert settings.destination_url is not None
        # The same egress policy and allowed networks as blob URLs and SQL sources.
        check_destination(
            psycopg_conninfo(settings.destination_url),
            EgressPolicy(settings.fetch_allowed_networks),
        )
        return PostgresDestination(
            settings.destination_url,
            memory_limit=settings.memory_limit,
            spill_dir=spill,
            owners=owners,
        )
    return DuckDBDestination(
        settings.destination_path,
        memory_limit=settings.memory_limit,
        spill_dir=spill,
        owners=owners,
    )


class Services:
    def __init__(self, settings: Settings, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock = clock
        """What time it is for every decision of these services (schedules, data checks, key
        use): injected so tests never depend on the wall clock or the machine's time zone."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / "files").mkdir(parents=True, exist_ok=True)
        self.store = Store(
            settings.metadata_url,
            open_secret_box(settings),
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_overflow,
        )
        self.store.migrate()
        self.retry = RetryPolicy(
            settings.retry_max_attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
        self.access = Access(self.store, clock=clock)
        self.file_access = FileAccess(self.store, settings)
        self.catalog = Catalog(self.store, self.file_access.for_project)
        self.runs = Runs(self.store, self.catalog, self.retry, clock=clock)
        self.run_search = RunSearch(self.store)
        self.daily_status = DailyStatus(self.store)
        self.readiness = Readiness(self.store, lambda: self.warehouse)
        self.fetch_limits = FetchLimits(
            max_bytes=settings.blob_max_bytes,
            timeout_seconds=settings.fetch_timeout_seconds,
            allowed_networks=settings.fetch_allowed_networks,
        )
        """Every blob download's limits, built once here; each blob's spec carries them."""
        self.source_loads = SourceLoads(
            self.catalog,
            self.file_access,
            settings.data_dir / "staging",
            EgressPolicy(settings.fetch_allowed_networks),
        )

    @cached_property
    def dashboard_sessions(self) -> DashboardSessions:
        return DashboardSessions(
            self.store,
            self.access,
            lifetime=timedelta(hours=self.settings.dashboard_session_hours),
            clock=self.clock,
        )

    @cached_property
    def warehouse(self) -> Destination:
        """Opened on first use: commands that only read metadata never lock the DuckDB file
        (or connect to PostgreSQL)."""
        return open_destination(self.settings, lambda: run_owners(self.store))

    @cached_property
    def dataplane(self) -> DataPlane:
        return DataPlane(
            self.warehouse,
            self.settings.data_dir / "staging",
            self.decompression_limits,
            max_columns=self.settings.max_columns,
        )

    @cached_property
    def previews(self) -> SourcePreviews:
        """Source previews; they never open the destination."""
        settings = self.settings
        return SourcePreviews(
            self.catalog,
            SourceInputResolver(
                self.catalog, self.file_access, EgressPolicy(settings.fetch_allowed_networks)
            ),
            Previewer(
                settings.data_dir / "staging",
                self.decompression_limits,
                max_columns=settings.max_columns,
                memory_limit=settings.memory_limit,
            ),
            settings.data_dir / "staging",
        )

    @property
    def decompression_limits(self) -> DecompressionLimits:
        return DecompressionLimits(
            max_bytes=self.settings.max_decompressed_bytes,
            max_ratio=self.settings.max_compression_ratio,
            max_members=self.settings.max_archive_members,
        )

    @cached_property
    def quarantine(self) -> Quarantine:
        return Quarantine(self.warehouse, self.dataplane, self.catalog, self.store)

    @cached_property
    def replay(self) -> QuarantineReplay:
        return QuarantineReplay(self.quarantine, self.settings.data_dir / "staging")

    @cached_property
    def status_grids(self) -> StatusGrids:
        return StatusGrids(self.catalog, self.daily_status)

    @cached_property
    def scheduler(self) -> Scheduler:
        return Scheduler(self.runs, self.datasets, clock=self.clock)

    @cached_property
    def datasets(self) -> DatasetSources:
        return DatasetSources(self.store, self.catalog, self.runs)

    @cached_property
    def data_checks(self) -> DataChecks:
        return DataChecks(
            self.catalog,
            self.runs,
            self.datasets,
            self.source_loads,
            self.warehouse,
            self.settings.data_dir / "checks",
            self.settings.memory_limit,
            lookback_days=self.settings.data_check_lookback_days,
            threshold=self.settings.data_check_threshold,
            clock=self.clock,
        )

    @cached_property
    def idempotency(self) -> Idempotency:
        return Idempotency(self.store)

    @cached_property
    def oauth(self) -> OAuth:
        return OAuth(
            self.store,
            self.access,
            token_seconds=self.settings.oauth_token_seconds,
            clock=self.clock,
        )

    @cached_property
    def streams(self) -> Streams:
        return Streams(
            self.store,
            self.catalog,
            self.runs,
            self.settings.data_dir / "files" / "streams",
            flush_records=self.settings.stream_flush_records,
            flush_seconds=self.settings.stream_flush_seconds,
            max_record_bytes=self.settings.stream_max_record_bytes,
            clock=self.clock,
        )

    @cached_property
    def kusto_signer(self) -> Signer:
        return Signer(load_key(self.settings))

    @cached_property
    def kusto_uploads(self) -> KustoUploads:
        """Uploads live in the metadata database: a worker on another machine reads them.
        Their write times use the clock ``kusto_queues`` sweeps them by (its own default)."""
        return KustoUploads(self.store, self.settings.kusto_upload_max_bytes)

    @cached_property
    def mappings(self) -> Mappings:
        return Mappings(self.store)

    @cached_property
    def queued_ingestion(self) -> QueuedIngestion:
        return QueuedIngestion(
            self.catalog, self.runs, self.mappings, self.fetch_limits, self.work_signal
        )

    @cached_property
    def work_signal(self) -> WorkSignal:
        """Wakes the worker pools when units are queued (``ingestd.services``): this
        process's, and with PostgreSQL metadata every process's that listens."""
        store = self.store
        return WorkSignal(relay=None if store.is_sqlite else lambda: work_notices.notify(store))

    @property
    def kusto_queries(self) -> KustoQueries:
        """Built per use: the destination opens on first use (``warehouse``)."""
        return KustoQueries(
            self.catalog,
            self.warehouse,
            max_rows=self.settings.kusto_query_max_rows,
            timeout_seconds=self.settings.kusto_query_timeout_seconds,
        )

    @cached_property
    def kusto_queues(self) -> KustoQueues:
        settings = self.settings
        names = self.access.project_name
        return KustoQueues(
            self.store,
            self.queued_ingestion,
            self.kusto_signer,
            self.kusto_uploads,
            project_names=names,
            retention=timedelta(hours=settings.kusto_upload_retention_hours),
            status_table=self.kusto_status_table,
        )

    @cached_property
    def kusto_status_table(self) -> StatusTable:
        return StatusTable(self.store)

    def close(self) -> None:
        if "warehouse" in self.__dict__:
            self.warehouse.close()
        self.store.dispose()
