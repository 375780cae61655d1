"""ingestd's data plane, called exactly as the run engine calls it."""

from __future__ import annotations

import datetime
from dataclasses import asdict

from bench.job import DAY, EVENTS_MAPPING, LOAD_KEY, Job, Outcome
from ingestd.dataplane.contract import LoadRequest
from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.pipeline import DataPlane
from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping


def load(job: Job) -> Outcome:
    warehouse = DuckDBDestination(
        job.db, memory_limit=job.memory_limit, spill_dir=job.work / "spill"
    )
    try:
        plane = DataPlane(warehouse, job.work / "staging")
        request = LoadRequest(
            LOAD_KEY,
            "u1",
            "r1",
            DATASET_TABLES["events"].in_project("bench"),
            mapping_from_column_mapping("Events", EVENTS_MAPPING),
            (job.source,),
            (job.source.name,),
            day=datetime.date.fromisoformat(DAY),
        )
        result = plane.load(request)
        (inserted,) = warehouse.query("SELECT count(*) FROM bench__statsig.events")[0]
    finally:
        warehouse.close()
    return Outcome(int(inserted), result.counts.read, asdict(result.counts))
