"""The daily scheduler: one `scheduled` run per schedule and day, never two.

Two kinds of schedule exist: a dataset's hour (Statsig: every enabled, not API-triggered source
of the dataset, in one run) and a single source's own hour (``schedule_hour_pst``). Hours are
PST (UTC-8 all year, as Statsig's are; API-SURFACE §1.5); once the hour has come, the previous
PST day is loaded. A run's idempotency key names the schedule and the day and is unique in the
store, so restarts and several ingestd processes on one PostgreSQL cannot double a run.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from ingestd.control.runs import Runs
from ingestd.control.statsig.datasets import DatasetSources
from ingestd.domain.clock import Clock, system_clock
from ingestd.domain.origins import RunOrigin
from ingestd.errors import IngestdError

PST = timezone(timedelta(hours=-8), "PST")


def due_day(now: datetime, hour_pst: int) -> date | None:
    """The day a schedule at ``hour_pst`` should have loaded by ``now``, or None before the hour."""
    local = now.astimezone(PST)
    if local.hour < hour_pst:
        return None
    return local.date() - timedelta(days=1)


def pst_today(now: datetime) -> date:
    return now.astimezone(PST).date()


class Scheduler:
    def __init__(
        self, runs: Runs, datasets: DatasetSources, *, clock: Clock = system_clock
    ) -> None:
        self.runs = runs
        self.datasets = datasets
        self.clock = clock

    def tick(self, now: datetime | None = None) -> list[str]:
        """Create the runs that are due; returns their ids (existing ones are not recreated)."""
        now = now or self.clock()
        created: list[str] = []
        for project_id, dataset, hour in self.datasets.scheduled_datasets():
            day = due_day(now, hour)
            if day is None:
                continue
            key = f"scheduled:{dataset}:{day.isoformat()}"
            if self.runs.find_by_idempotency_key(project_id, key) is not None:
                continue
            try:
                run = self.datasets.start(
                    project_id,
                    dataset,
                    [day],
                    trigger="scheduled",
                    origin=RunOrigin.SCHEDULER,
                    api_triggered=False,
                    idempotency_key=key,
                )
            except IngestdError:
                continue  # nothing to load for it (e.g. all sources API-triggered)
            created.append(run.id)
        for source in self.runs.source_ids_with_schedule():
            assert source.schedule_hour_pst is not None
            day = due_day(now, source.schedule_hour_pst)
            if day is None or source.api_triggered or source.dataset is not None:
                continue  # dataset sources follow their dataset's schedule
            key = f"scheduled:source:{source.id}:{day.isoformat()}"
            if self.runs.find_by_idempotency_key(source.project_id, key) is not None:
                continue
            try:
                run = self.runs.start_source_run(
                    source.project_id,
                    [source.name],
                    [day],
                    trigger="scheduled",
                    origin=RunOrigin.SCHEDULER,
                    idempotency_key=key,
                )
            except IngestdError:
                continue  # the source changed under us; the next tick sees its new state
            created.append(run.id)
        return created
