"""The local worker pool: threads that claim due units and run them.

Each worker holds a lease on its unit and a heartbeat thread renews it; when a run's cancel is
asked for, the heartbeat cancels the unit's token, which interrupts the load before it commits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass

from ingestd.control.runs import Claim, Runs
from ingestd.dataplane.contract import CancelToken
from ingestd.executor.unit_runner import UnitRunner

log = logging.getLogger("ingestd.executor")


@dataclass
class _Running:
    claim: Claim
    worker: str
    cancel: CancelToken


class WorkerPool:
    def __init__(
        self,
        runs: Runs,
        runner: UnitRunner,
        *,
        workers: int,
        lease_seconds: float,
        idle_seconds: float = 0.5,
    ) -> None:
        self.runs = runs
        self.runner = runner
        self.workers = workers
        self.lease_seconds = lease_seconds
        self.idle_seconds = idle_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def start(self) -> None:
        for index in range(self.workers):
            worker = f"{self.name}/w{index}"
            thread = threading.Thread(target=self._work, args=(worker,), name=worker, daemon=True)
            thread.start()
            self._threads.append(thread)
        heartbeat = threading.Thread(target=self._heartbeat, name=f"{self.name}/hb", daemon=True)
        heartbeat.start()
        self._threads.append(heartbeat)

    def wake(self) -> None:
        """Look for work now (new units were just created)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, cancel units in flight (they roll back) and wait for the threads."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            for running in self._running.values():
                running.cancel.cancel()
        for thread in self._threads:
            thread.join(timeout)

    def run_once(self, worker: str | None = None) -> bool:
        """Claim and run one due unit in this thread; False if nothing was due."""
        worker = worker or f"{self.name}/inline"
        claim = self.runs.claim_next(worker, self.lease_seconds)
        if claim is None:
            return False
        cancel = CancelToken()
        with self._lock:
            self._running[claim.unit_id] = _Running(claim, worker, cancel)
        try:
            self.runner.run(claim, worker, cancel)
        finally:
            with self._lock:
                self._running.pop(claim.unit_id, None)
        return True

    def _work(self, worker: str) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once(worker):
                    continue
            except Exception:
                log.exception("worker %s failed to claim or record a unit", worker)
            self._wake.wait(self.idle_seconds)
            self._wake.clear()

    def _heartbeat(self) -> None:
        interval = max(0.2, self.lease_seconds / 3)
        while not self._stop.wait(min(interval, 1.0)):
            with self._lock:
                running = list(self._running.values())
            for item in running:
                try:
                    keep = self.runs.heartbeat(item.claim.unit_id, item.worker, self.lease_seconds)
                except Exception:
                    log.exception("heartbeat for unit %s failed", item.claim.unit_id)
                    continue
                if not keep:
                    item.cancel.cancel()
