"""Readiness: whether this process can serve requests that touch its stores.

``/healthz`` says the process is alive; readiness also says that the metadata store answers
and that the destination opens and answers a query. A check's failure is named by its code
only: a driver's message can carry hosts or credentials and is logged, never returned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ingestd.dataplane.destinations.interface import Destination
from ingestd.errors import IngestdError
from ingestd.store.database import Store
from ingestd.store.reachability import ping

log = logging.getLogger("ingestd.readiness")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    code: str | None
    """The error code of a failed check (``DESTINATION_BUSY``...), None when it passed."""


@dataclass(frozen=True)
class ReadinessReport:
    checks: list[Check]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)


class Readiness:
    def __init__(self, store: Store, destination: Callable[[], Destination]) -> None:
        self.store = store
        self.destination = destination

    def report(self) -> ReadinessReport:
        return ReadinessReport([self._metadata(), self._destination()])

    def metadata_answers(self) -> None:
        """Liveness (``/healthz``): return when the metadata store answers; raise when it
        does not."""
        ping(self.store)

    def _metadata(self) -> Check:
        try:
            self.metadata_answers()
        except Exception:  # any driver failure means "not ready"; logged, never shown
            log.exception("readiness: the metadata store did not answer")
            return Check("metadata", False, "METADATA_UNAVAILABLE")
        return Check("metadata", True, None)

    def _destination(self) -> Check:
        try:
            self.destination().query("SELECT 1")
        except IngestdError as exc:
            log.warning("readiness: the destination is not ready: %s", exc.code)
            return Check("destination", False, exc.code)
        except Exception:  # as above: a foreign failure is logged, its text never returned
            log.exception("readiness: the destination did not answer")
            return Check("destination", False, "DESTINATION_ERROR")
        return Check("destination", True, None)
