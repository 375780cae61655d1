"""What ``ingestd serve`` runs beside its API: the leader's periodic work and the unit executor.

One thread ticks every ``tick_seconds``. On each tick it renews (or tries to take) the leader
lock (``store.leader_lock``): only the leading serve process schedules daily runs, flushes
streams, publishes Kusto notifications, sweeps uploads, runs the data checks and, with
INGESTD_EXECUTOR=celery, dispatches due units to the broker. Every serve still answers the API,
and with the local executor every serve's pool still runs units (claims keep them single).
A follower takes over within one tick of the leader's lock being freed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ingestd.control.scheduler import pst_today
from ingestd.control.services import Services
from ingestd.executor.dispatcher import Dispatcher
from ingestd.store.leader_lock import LeaderLock

log = logging.getLogger("ingestd.scheduler")


class Background:
    def __init__(
        self,
        services: Services,
        leader: LeaderLock,
        *,
        wake: Callable[[], None],
        dispatcher: Dispatcher | None,
        tick_seconds: float,
    ) -> None:
        self.services = services
        self.leader = leader
        self.wake = wake
        self.dispatcher = dispatcher
        self.tick_seconds = tick_seconds
        self.leading = False
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_schedule = float("-inf")
        self._last_check = time.monotonic()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Units were just enqueued in this process: tick now rather than at the next
        interval (the leader dispatches them at once; a follower only renews its bid)."""
        self._poke.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.leader.release()
        self.leading = False

    def tick(self) -> None:
        """One pass: hold the lock, and if this process leads, do what is due."""
        leading = self.leader.hold()
        if leading != self.leading:
            log.info(
                "this serve process %s the scheduler",
                "now leads" if leading else "no longer leads",
            )
            self.leading = leading
        if not leading:
            return
        settings = self.services.settings
        now = time.monotonic()
        if now - self._last_schedule >= settings.scheduler_interval_seconds:
            self._last_schedule = now
            self._periodic(now)
        if self.dispatcher is not None:
            self.dispatcher.dispatch_due()

    def _periodic(self, now: float) -> None:
        """Every scheduler interval: due scheduled runs and stream flushes (by size or age),
        the Kusto SDK notifications of ended blobs and the upload retention; less often, the
        data checks and the reloads they decide."""
        services = self.services
        due = services.scheduler.tick()
        flushed = services.streams.flush_due()
        services.kusto_queues.publish()
        services.kusto_queues.sweep()
        if due or flushed:
            self.wake()
        if now - self._last_check >= services.settings.data_check_interval_seconds:
            self._last_check = now
            today = pst_today(services.clock())
            for project_id in services.access.project_ids():
                if services.data_checks.reload_changed(project_id, today):
                    self.wake()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop must survive a bad tick
                log.exception("scheduler tick failed")
            self._poke.wait(self.tick_seconds)
            self._poke.clear()
