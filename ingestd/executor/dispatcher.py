"""INGESTD_EXECUTOR=celery: send due units to the broker as tasks, each once.

Runs in the leading ``serve`` every ``dispatch_interval_seconds``. A unit is marked dispatched
(a conditional update, ``store.unit_dispatch``) before its task is sent, so two dispatchers
never both send it; a send that fails (the broker is down) clears the mark and the next pass
tries again. A message lost after it was sent (a broker restart without persistence) is made
good by sending again once ``redispatch_seconds`` pass without a claim. Duplicates are
harmless: a worker runs a unit only if its claim wins (``Runs.claim_if_due``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kombu.exceptions import OperationalError

from ingestd.domain.clock import Clock
from ingestd.domain.unit_tasks import UnitTask
from ingestd.errors import IngestdError
from ingestd.store.database import Store
from ingestd.store.unit_dispatch import mark_dispatched, units_to_dispatch, unmark_dispatched
from ingestd.store.unit_records import unit_record

log = logging.getLogger("ingestd.dispatch")

BATCH = 200
"""Units looked at per pass; a pass that fills it goes on at once."""


class Dispatcher:
    def __init__(
        self,
        store: Store,
        send: Callable[[UnitTask], None],
        *,
        clock: Clock,
        redispatch_seconds: float,
    ) -> None:
        self.store = store
        self.send = send
        self.clock = clock
        self.redispatch_seconds = redispatch_seconds

    def dispatch_due(self) -> int:
        """Send every due, unsent unit; how many were sent."""
        sent = 0
        while True:
            now = self.clock()
            due = units_to_dispatch(self.store, now, self.redispatch_seconds, BATCH)
            for unit_id in due:
                if not mark_dispatched(self.store, unit_id, now, self.redispatch_seconds):
                    continue
                task = self._task(unit_id)
                if task is None:
                    continue
                try:
                    self.send(task)
                except (OperationalError, OSError) as exc:
                    unmark_dispatched(self.store, unit_id, now)
                    log.warning("cannot send unit %s to the broker: %s", unit_id, exc)
                    return sent
                sent += 1
            if len(due) < BATCH:
                return sent

    def _task(self, unit_id: str) -> UnitTask | None:
        try:
            record = unit_record(self.store, unit_id)
        except IngestdError as exc:
            # A spec no version of ingestd here can read: no worker could run it either. It
            # stays marked (sent again only after redispatch_seconds) and says why in the log.
            log.error("unit %s cannot be dispatched: %s", unit_id, exc.message)
            return None
        if record is None:
            return None
        return UnitTask(record.id, record.run_id, record.project_id, record.spec)
