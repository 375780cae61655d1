"""Who runs units right now: the processes an operator sees on the dashboard and in the API."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerView:
    name: str
    """A Celery worker's name (``ingestd@host:pid`` unless ``--name`` gave one), or a serve
    process's local pool (``host:pid:suffix``)."""
    concurrency: int | None
    """Units it runs at a time, when it said so (a Celery worker answering the broker)."""
    running: int
    """Units it holds live leases on now (from the metadata database)."""
    answered: bool
    """It answered the broker's ping just now. False: known only by its leases (a local
    pool, or a worker the broker cannot reach)."""


@dataclass(frozen=True)
class WorkerCensus:
    executor: str
    """``local`` or ``celery`` (INGESTD_EXECUTOR)."""
    workers: tuple[WorkerView, ...]
    broker_reachable: bool | None
    """Celery: whether the broker answered the census; None with the local executor."""
