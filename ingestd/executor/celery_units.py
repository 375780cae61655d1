"""What an ``ingestd worker`` does with one unit task: claim the unit, run it, let go.

The task is acknowledged (``acks_late``) only when this returns, so a worker that dies before
leaves the message to be delivered again, and whatever delivers it goes through the same claim:
a unit that another worker holds under a live lease, or that has ended, is not run again; one
whose lease ran out is picked up as a retry, and its data plane ledger turns a load that had
already committed into an already-loaded success instead of a second copy.
"""

from __future__ import annotations

import logging
import threading

from ingestd.control.runs import Runs
from ingestd.domain.unit_tasks import UnitTask
from ingestd.executor.leases import LeaseKeeper
from ingestd.executor.unit_runner import UnitRunner
from ingestd.store.database import Store
from ingestd.store.unit_records import unit_record

log = logging.getLogger("ingestd.executor")


class CeleryUnits:
    def __init__(
        self, store: Store, runs: Runs, runner: UnitRunner, lease_seconds: float, *, name: str
    ) -> None:
        self.store = store
        self.runs = runs
        self.runner = runner
        self.lease_seconds = lease_seconds
        self.name = name
        """The Celery worker's name: its leases say ``<name>/<thread>``, so the census joins
        what the broker says of a worker with the units it holds."""
        self.leases = LeaseKeeper(runs, lease_seconds, name=self.name)

    def start(self) -> None:
        self.leases.start()

    def stop(self) -> None:
        self.leases.stop()

    def execute(self, task: UnitTask) -> None:
        """Run the task's unit if this worker wins its claim; otherwise drop the task."""
        worker = f"{self.name}/{threading.current_thread().name}"
        record = unit_record(self.store, task.unit_id)
        if record is None or record.project_id != task.project_id:
            log.info("task for unit %s dropped: no such unit", task.unit_id)
            return
        if record.spec != task.spec or record.run_id != task.run_id:
            log.warning("task for unit %s dropped: it differs from the stored unit", task.unit_id)
            return
        claim = self.runs.claim_if_due(task.unit_id, worker, self.lease_seconds)
        if claim is None:
            log.info(
                "task for unit %s dropped: the unit is not due (running elsewhere, waiting "
                "for its retry, or ended)",
                task.unit_id,
            )
            return
        with self.leases.holding(claim, worker) as cancel:
            self.runner.run(claim, worker, cancel)
