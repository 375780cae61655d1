"""The workers an operator sees: Celery's own answer (``inspect stats``, the same as
``celery -A ingestd.executor.celery_app inspect stats``) joined with the live leases of the
metadata database, so a worker the broker cannot reach still shows the units it holds."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from ingestd.domain.clock import Clock
from ingestd.domain.workers import WorkerCensus, WorkerView
from ingestd.store.database import Store
from ingestd.store.worker_leases import running_by_process

log = logging.getLogger("ingestd.executor")

INSPECT_TIMEOUT_SECONDS = 1.0


def census(store: Store, clock: Clock, app: Celery | None) -> WorkerCensus:
    running = running_by_process(store, clock())
    if app is None:
        workers = tuple(
            WorkerView(name, None, count, answered=False) for name, count in sorted(running.items())
        )
        return WorkerCensus("local", workers, broker_reachable=None)
    stats: dict[str, Any] | None
    try:
        stats = app.control.inspect(timeout=INSPECT_TIMEOUT_SECONDS).stats()
        reachable = True
    except (OperationalError, OSError) as exc:
        log.warning("the broker did not answer the worker census: %s", exc)
        stats, reachable = None, False
    seen: list[WorkerView] = []
    for name, answer in sorted((stats or {}).items()):
        pool = answer.get("pool", {}) if isinstance(answer, dict) else {}
        concurrency = pool.get("max-concurrency") if isinstance(pool, dict) else None
        seen.append(
            WorkerView(
                name,
                int(concurrency) if isinstance(concurrency, int) else None,
                running.pop(name, 0),
                answered=True,
            )
        )
    seen.extend(
        WorkerView(name, None, count, answered=False) for name, count in sorted(running.items())
    )
    return WorkerCensus("celery", tuple(seen), broker_reachable=reachable)
