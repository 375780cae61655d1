"""Leases of the units a process is running, kept alive by one heartbeat thread.

Every unit a worker runs holds a lease in the metadata database (``Runs.heartbeat`` extends
it). The heartbeat thread renews every held lease a third of the way through it; when a renewal
says the unit is no longer ours (another worker took it after we stalled) or a cancel was asked
for, it cancels the unit's token, which interrupts the load before it commits. The cancel
therefore reaches a unit on whichever process or machine runs it, within one heartbeat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ingestd.control.runs import Claim, Runs
from ingestd.dataplane.contract import CancelToken

log = logging.getLogger("ingestd.executor")


@dataclass
class _Held:
    claim: Claim
    worker: str
    cancel: CancelToken


class LeaseKeeper:
    def __init__(self, runs: Runs, lease_seconds: float, *, name: str) -> None:
        self.runs = runs
        self.lease_seconds = lease_seconds
        self.name = name
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"{self.name}/hb", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Cancel every unit still held (they roll back) and stop the heartbeat."""
        self._stop.set()
        self.cancel_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def cancel_all(self) -> None:
        with self._lock:
            for held in self._held.values():
                held.cancel.cancel()

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    @contextmanager
    def holding(self, claim: Claim, worker: str) -> Iterator[CancelToken]:
        """Keep ``claim``'s lease alive while the block runs; yields the unit's cancel token."""
        cancel = CancelToken()
        with self._lock:
            self._held[claim.unit_id] = _Held(claim, worker, cancel)
        try:
            yield cancel
        finally:
            with self._lock:
                self._held.pop(claim.unit_id, None)

    def _beat(self) -> None:
        interval = min(max(0.2, self.lease_seconds / 3), 1.0)
        while not self._stop.wait(interval):
            with self._lock:
                held = list(self._held.values())
            for item in held:
                try:
                    keep = self.runs.heartbeat(item.claim.unit_id, item.worker, self.lease_seconds)
                except Exception:
                    log.exception("heartbeat for unit %s failed", item.claim.unit_id)
                    continue
                if not keep:
                    item.cancel.cancel()
