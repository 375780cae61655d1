"""The composition root: the control services plus the worker side that runs their units.

``control`` decides and ``executor`` runs what it decided, so neither may build the other:
this module, above both, wires them together from one Settings object. Front ends (the API app,
the CLI) build one ``Services`` here at start; routers and commands that only call control
services may still type against ``ingestd.control.services.Services``, which this extends.
"""

from __future__ import annotations

from functools import cached_property

from ingestd.control import services as control
from ingestd.control.kusto_streaming import StreamingIngestion
from ingestd.executor.pool import WorkerPool
from ingestd.executor.unit_runner import UnitRunner


class Services(control.Services):
    def runner(self) -> UnitRunner:
        return UnitRunner(
            self.store,
            self.catalog,
            self.runs,
            self.dataplane,
            self.file_access,
            self.source_loads,
        )

    def pool(self, workers: int | None = None) -> WorkerPool:
        pool = WorkerPool(
            self.runs,
            self.runner(),
            workers=workers or self.settings.workers,
            lease_seconds=self.settings.lease_seconds,
        )
        self.work_signal.subscribe(pool.wake)
        return pool

    @cached_property
    def kusto_streaming(self) -> StreamingIngestion:
        """Streaming ingestion runs the unit it makes in the request: it needs the runner."""
        return StreamingIngestion(
            self.queued_ingestion,
            self.runs,
            self.runner(),
            self.kusto_uploads,
            self.quarantine,
            lease_seconds=self.settings.lease_seconds,
        )
