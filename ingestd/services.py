"""The composition root: the control services plus the worker side that runs their units.

``control`` decides and ``executor`` runs what it decided, so neither may build the other:
this module, above both, wires them together from one Settings object. Front ends (the API app,
the CLI) build one ``Services`` here at start; routers and commands that only call control
services may still type against ``ingestd.control.services.Services``, which this extends.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from celery import Celery

from ingestd.control import services as control
from ingestd.control.kusto.streaming import StreamingIngestion
from ingestd.domain.workers import WorkerCensus
from ingestd.executor import celery_app, worker_census
from ingestd.executor.background import Background
from ingestd.executor.celery_units import CeleryUnits
from ingestd.executor.dispatcher import Dispatcher
from ingestd.executor.pool import WorkerPool
from ingestd.executor.unit_runner import UnitRunner
from ingestd.store.leader_lock import LeaderLock
from ingestd.store.work_notices import WorkNoticeListener


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

    def work_notices(self) -> WorkNoticeListener | None:
        """What wakes this process's pools and dispatcher when another process queues units
        (PostgreSQL metadata; None on SQLite, whose one process announces to itself). The
        caller starts and stops it, beside the pool it wakes."""
        if self.store.is_sqlite:
            return None
        return WorkNoticeListener(self.store, self.work_signal.wake_here)

    @cached_property
    def celery(self) -> Celery:
        """The Celery app of INGESTD_EXECUTOR=celery (its broker connection opens on use)."""
        return celery_app.make_celery(self.settings)

    def celery_units(self, name: str) -> CeleryUnits:
        """What the ``ingestd worker`` called ``name`` runs each unit task with."""
        return CeleryUnits(
            self.store, self.runs, self.runner(), self.settings.lease_seconds, name=name
        )

    def workers(self) -> WorkerCensus:
        """Who runs units now (the native API's and the dashboard's worker list)."""
        app = self.celery if self.settings.executor == "celery" else None
        return worker_census.census(self.store, self.clock, app)

    def background(self, wake: Callable[[], None]) -> Background:
        """The leader's periodic work for ``serve``; with INGESTD_EXECUTOR=celery it also
        dispatches due units (``wake``, the local pool's, is then not needed: pass a no-op)."""
        settings = self.settings
        dispatcher = (
            Dispatcher(
                self.store,
                celery_app.sender(self.celery),
                clock=self.clock,
                redispatch_seconds=settings.redispatch_seconds,
            )
            if settings.executor == "celery"
            else None
        )
        tick = settings.dispatch_interval_seconds if dispatcher is not None else 1.0
        background = Background(
            self,
            LeaderLock(self.store),
            wake=wake,
            dispatcher=dispatcher,
            tick_seconds=min(tick, settings.scheduler_interval_seconds),
        )
        if dispatcher is not None:
            self.work_signal.subscribe(background.poke)
        return background

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
