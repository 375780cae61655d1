"""Data checks: compare what ingestd holds for a day with what the source has now, and reload
days that changed by more than a threshold within a lookback window (API-SURFACE §1.5:
defaults 3 days and 5 %).

The source's current count is measured by loading the day into a scratch DuckDB file with the
same pipeline (same mapping, validation and dedupe), so both sides count the same way.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from ingestd.control.catalog import Catalog, SourceView
from ingestd.control.runs import Runs
from ingestd.control.source_loads import SourceLoads
from ingestd.control.statsig.datasets import DatasetSources
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.clock import Clock, system_clock
from ingestd.domain.origins import RunOrigin
from ingestd.domain.states import UnitState
from ingestd.domain.unit_specs import SourceDayUnitSpec
from ingestd.errors import UnitError

log = logging.getLogger("ingestd.checks")


@dataclass(frozen=True)
class EventDelta:
    day: date
    source: str
    event: str
    internal: int
    external: int
    threshold: float
    last_updated: datetime

    @property
    def has_diff(self) -> bool:
        return relative_change(self.internal, self.external) > self.threshold


def relative_change(internal: int, external: int) -> float:
    if internal == external:
        return 0.0
    return abs(external - internal) / max(internal, 1)


class DataChecks:
    def __init__(
        self,
        catalog: Catalog,
        runs: Runs,
        datasets: DatasetSources,
        source_loads: SourceLoads,
        warehouse: Destination,
        scratch_root: Path,
        memory_limit: str,
        *,
        lookback_days: int,
        threshold: float,
        clock: Clock = system_clock,
    ) -> None:
        self.catalog = catalog
        self.runs = runs
        self.datasets = datasets
        self.source_loads = source_loads
        self.warehouse = warehouse
        self.scratch_root = scratch_root
        self.memory_limit = memory_limit
        self.lookback_days = lookback_days
        self.threshold = threshold
        self.clock = clock

    def source_counts(self, project_id: int, source: SourceView, day: date) -> dict[str, int]:
        """Rows per event name the source has now for ``day`` (after validation and dedupe)."""
        scratch = self.scratch_root / f"check-{uuid.uuid4().hex}"
        scratch.mkdir(parents=True, exist_ok=True)
        warehouse = DuckDBDestination(
            scratch / "scratch.duckdb", memory_limit=self.memory_limit, spill_dir=scratch / "spill"
        )
        try:
            request = self.source_loads.request(
                project_id,
                SourceDayUnitSpec(table=source.table, source=source.name, day=day),
                load_key=f"check:{source.id}:{day}",
                unit_id="check",
                run_id="check",
            )
            DataPlane(warehouse, scratch / "staging").load(request)
            rows = warehouse.query(
                f"SELECT event_name, count(*) FROM {warehouse.table_sql(request.table)} GROUP BY 1"
            )
            return {str(event): int(n) for event, n in rows}
        finally:
            warehouse.close()
            shutil.rmtree(scratch, ignore_errors=True)

    def deltas(
        self,
        project_id: int,
        start: date,
        end: date,
        *,
        source: str | None = None,
        event: str | None = None,
    ) -> list[EventDelta]:
        """The delta ledger: per day, source and event, held versus current counts."""
        sources = self.catalog.list_sources(project_id, dataset="events")
        if source is not None:
            sources = [s for s in sources if s.name == source]
        out: list[EventDelta] = []
        now = self.clock()
        for src in sources:
            held = self.datasets.event_counts(
                self.warehouse, project_id, start, end, source=src.name, event=event
            )
            days = sorted({c.day for c in held})
            for day in days:
                internal = {c.event: c for c in held if c.day == day}
                try:
                    external = self.source_counts(project_id, src, day)
                except UnitError as exc:
                    log.warning("data check of %s %s failed: %s", src.name, day, exc)
                    continue
                if event is not None:
                    external = {k: v for k, v in external.items() if k == event}
                for name in sorted(set(internal) | set(external)):
                    held_count = internal[name].count if name in internal else 0
                    updated = internal[name].last_updated if name in internal else now
                    out.append(
                        EventDelta(
                            day,
                            src.name,
                            name,
                            held_count,
                            external.get(name, 0),
                            self.threshold,
                            updated,
                        )
                    )
        return out

    def reload_changed(self, project_id: int, today: date) -> list[str]:
        """Reload days in the lookback window whose source count moved past the threshold."""
        start = today - timedelta(days=self.lookback_days)
        created = []
        for source in self.catalog.list_sources(project_id, dataset="events"):
            if not source.enabled:
                continue
            held = self.datasets.event_counts(
                self.warehouse, project_id, start, today, source=source.name
            )
            for day in sorted({c.day for c in held}):
                internal = sum(c.count for c in held if c.day == day)
                try:
                    external = sum(self.source_counts(project_id, source, day).values())
                except UnitError as exc:
                    log.warning("data check of %s %s failed: %s", source.name, day, exc)
                    continue
                if relative_change(internal, external) <= self.threshold:
                    continue
                run = self.runs.start_source_run(
                    project_id,
                    [source.name],
                    [day],
                    trigger="reload",
                    origin=RunOrigin.SCHEDULER,
                    idempotency_key=f"reload:{source.id}:{day}:{external}",
                )
                if run.units and run.units[0].state is UnitState.ENQUEUED:
                    created.append(run.id)
        return created
