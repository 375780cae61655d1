"""Runs take every timestamp from the services' clock: a fixed clock fixes them (to the
microsecond), and what happened keeps its order even though the clock stands still."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ingestd.control.catalog import Catalog
from ingestd.domain.clock import Ascending, FixedClock
from ingestd.domain.connections import FileConnection
from ingestd.domain.datasets import DATASET_TABLES
from tests.conftest import make_services

AT = datetime(2031, 7, 4, 12, 0, tzinfo=UTC)


def _source(catalog: Catalog, project_id: int, root: Path) -> None:
    catalog.create_table(project_id, DATASET_TABLES["events"], merge=True)
    catalog.create_connection(project_id, "files", FileConnection(root=str(root)))
    from ingestd.domain.datasets import mapping_from_column_mapping

    mapping = {"unit_id": "u", "event_name": "e", "timestamp": "t", "ids": {"userID": "u"}}
    catalog.create_source(
        project_id,
        name="web",
        table="statsig.events",
        connection="files",
        dataset="events",
        path_template="missing_{ds}.csv",
        mapping=mapping_from_column_mapping("Events", mapping),
        column_mapping=mapping,
    )


def test_history_timestamps_come_from_the_injected_clock(tmp_path: Path) -> None:
    services = make_services(tmp_path / "data", clock=FixedClock(AT), retry_max_attempts=1)
    project_id = services.access.ensure_project("acme")
    root = services.settings.data_dir / "files" / "acme"
    root.mkdir(parents=True)
    _source(services.catalog, project_id, root)
    first = services.runs.start_source_run(project_id, ["web"], [date(2031, 7, 1)], trigger="x")
    second = services.runs.start_source_run(project_id, ["web"], [date(2031, 7, 1)], trigger="y")
    pool = services.pool(workers=1)
    while pool.run_once():
        pass
    run = services.runs.get_run(project_id, first.id)
    stamps = [run.created_at, *(h.at for h in run.history)]
    stamps += [h.at for u in run.units for h in u.history]
    assert stamps and all(AT <= s < AT + timedelta(seconds=1) for s in stamps), stamps
    assert run.units[0].state.value == "failed"  # the file is missing: it ran to the end
    # The second run was created after the first: newest first, whatever the still clock.
    runs, _ = services.runs.list_runs(project_id, limit=10)
    assert [r.id for r in runs] == [second.id, first.id]
    history = [h.at for h in run.units[0].history]
    assert history == sorted(history) and len(set(history)) == len(history)
    services.close()


def test_ascending_never_repeats_or_goes_back() -> None:
    readings = iter([AT, AT, AT - timedelta(hours=1), AT + timedelta(seconds=5)])
    clock = Ascending(lambda: next(readings))
    got = [clock() for _ in range(4)]
    assert got[:3] == [AT, AT + timedelta(microseconds=1), AT + timedelta(microseconds=2)]
    assert got[3] == AT + timedelta(seconds=5)
