"""The local worker pool: threads that claim due units and run them.

Each worker holds a lease on its unit, kept alive by the pool's ``LeaseKeeper``; when a run's
cancel is asked for, the heartbeat cancels the unit's token, which interrupts the load before it
commits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from ingestd.control.runs import Runs
from ingestd.executor.leases import LeaseKeeper
from ingestd.executor.unit_runner import UnitRunner

log = logging.getLogger("ingestd.executor")


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
        self.leases = LeaseKeeper(runs, lease_seconds, name=self.name)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wake = threading.Event()

    def start(self) -> None:
        for index in range(self.workers):
            worker = f"{self.name}/w{index}"
            thread = threading.Thread(target=self._work, args=(worker,), name=worker, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.leases.start()

    def wake(self) -> None:
        """Look for work now (new units were just created)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, cancel units in flight (they roll back) and wait for the threads."""
        self._stop.set()
        self._wake.set()
        self.leases.cancel_all()
        for thread in self._threads:
            thread.join(timeout)
        self.leases.stop(timeout)

    def run_once(self, worker: str | None = None) -> bool:
        """Claim and run one due unit in this thread; False if nothing was due."""
        worker = worker or f"{self.name}/inline"
        claim = self.runs.claim_next(worker, self.lease_seconds)
        if claim is None:
            return False
        with self.leases.holding(claim, worker) as cancel:
            self.runner.run(claim, worker, cancel)
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
