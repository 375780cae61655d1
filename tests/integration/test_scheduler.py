"""The scheduler: due days in PST, one run per schedule and day across processes."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ingestd.control.scheduler import due_day
from ingestd.domain.connections import connection_body
from tests.conftest import make_services

MAPPING = {"unit_id": "u", "event_name": "e", "timestamp": "t", "ids": {"id": "u"}}


@pytest.mark.parametrize(
    ("now", "hour", "expected"),
    [
        (datetime(2024, 3, 2, 9, 59, tzinfo=UTC), 2, None),  # 01:59 PST
        (datetime(2024, 3, 2, 10, 0, tzinfo=UTC), 2, date(2024, 3, 1)),  # 02:00 PST
        (datetime(2024, 3, 2, 7, 0, tzinfo=UTC), 10, date(2024, 2, 29)),  # 23:00 PST on 1 Mar
        (datetime(2024, 7, 2, 10, 0, tzinfo=UTC), 2, date(2024, 7, 1)),  # no daylight saving
    ],
)
def test_due_day_is_the_previous_pst_day_once_the_hour_has_come(
    now: datetime, hour: int, expected: date | None
) -> None:
    assert due_day(now, hour) == expected


def test_several_processes_ticking_at_once_create_one_run(
    tmp_path: Path, database_url: str
) -> None:
    # Two service stacks on one metadata database stand for two ingestd processes.
    first = make_services(tmp_path / "a", database_url)
    second = make_services(tmp_path / "b", database_url)
    project_id = first.access.ensure_project("acme")
    first.catalog.create_connection(
        project_id,
        "file",
        connection_body("file", {"root": str(first.settings.data_dir / "files" / "acme")}),
    )
    first.datasets.create(
        project_id,
        connection_type="file",
        dataset="Events",
        name="web",
        query="e/{ds}.csv",
        column_mapping=MAPPING,
    )
    first.datasets.set_schedule_hour(project_id, "Events", 3)
    now = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)
    created: list[list[str]] = []
    barrier = threading.Barrier(4)

    def tick(services: object) -> None:
        barrier.wait()
        created.append(services.scheduler.tick(now))  # type: ignore[attr-defined]

    threads = [threading.Thread(target=tick, args=(s,)) for s in (first, second, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs, total = first.runs.list_runs(project_id)
    first.close()
    second.close()
    assert total == 1
    assert runs[0].trigger == "scheduled" and runs[0].days == ["2024-03-01"]
    assert {run_id for ids in created for run_id in ids} == {runs[0].id}
