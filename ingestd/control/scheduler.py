"""The daily scheduler: one `scheduled` run per scheduled source and day, never two.

Schedules are kept in PST (UTC-8 all year, as Statsig's are; API-SURFACE §1.5). Once the hour
has come, the previous PST day is loaded. The run's idempotency key (source and day) is unique in
the store, so restarts and several ingestd processes on one PostgreSQL cannot double a run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from ingestd.control.runs import Runs
from ingestd.errors import IngestdError

PST = timezone(timedelta(hours=-8), "PST")


def due_day(now: datetime, hour_pst: int) -> date | None:
    """The day a schedule at ``hour_pst`` should have loaded by ``now``, or None before the hour."""
    local = now.astimezone(PST)
    if local.hour < hour_pst:
        return None
    return local.date() - timedelta(days=1)


class Scheduler:
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    def tick(self, now: datetime | None = None) -> list[str]:
        """Create the runs that are due; returns their ids (existing ones are not recreated)."""
        now = now or datetime.now(UTC)
        created = []
        for source in self.runs.source_ids_with_schedule():
            assert source.schedule_hour_pst is not None
            day = due_day(now, source.schedule_hour_pst)
            if day is None or source.api_triggered:
                continue
            key = f"scheduled:{source.id}:{day.isoformat()}"
            if self.runs.find_by_idempotency_key(source.project_id, key) is not None:
                continue
            try:
                run = self.runs.start_source_run(
                    source.project_id,
                    [source.name],
                    [day],
                    trigger="scheduled",
                    idempotency_key=key,
                )
            except IngestdError:
                continue  # the source changed under us; the next tick sees its new state
            created.append(run.id)
        return created
