"""The run engine end to end: sources, days, the worker pool, DuckDB, crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestd.domain.connections import connection_body
from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.states import RunState, UnitState
from ingestd.errors import FailureClass
from ingestd.services import Services
from tests.conftest import make_services

DAY = date(2024, 3, 1)
MAPPING = {"unit_id": "user", "event_name": "event", "timestamp": "ts", "ids": {"userID": "user"}}


def write_events(path: Path, rows: int, *, bad: int = 0, start: int = 1_709_251_200) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["user,event,ts"]
    lines += [f"u{i % 97},e{i % 5},{start + i}" for i in range(rows)]
    lines += [f"u{i},e1,not-a-time" for i in range(bad)]
    path.write_text("\n".join(lines) + "\n")


def add_source(services: Services, project: str = "acme") -> int:
    project_id = services.access.ensure_project(project)
    root = services.settings.data_dir / "files" / project
    services.catalog.create_table(project_id, DATASET_TABLES["events"], merge=True)
    services.catalog.create_connection(
        project_id, "files", connection_body("file", {"root": str(root)})
    )
    services.catalog.create_source(
        project_id,
        name="events",
        table="statsig.events",
        connection="files",
        path_template="events/{ds}/*.csv",
        mapping=mapping_from_column_mapping("Events", MAPPING),
    )
    return project_id


def drain(services: Services) -> None:
    pool = services.pool(workers=1)
    while pool.run_once():
        pass


def test_a_backfill_loads_each_day_with_exact_counts(services: Services) -> None:
    project_id = add_source(services)
    files = services.settings.data_dir / "files" / "acme" / "events"
    write_events(files / DAY.isoformat() / "a.csv", 100, bad=2)
    write_events(files / DAY.isoformat() / "b.csv", 50, start=1_800_000_000)
    write_events(files / (DAY + timedelta(days=1)).isoformat() / "a.csv", 10)
    run = services.runs.start_source_run(
        project_id, ["events"], [DAY, DAY + timedelta(days=1)], trigger="backfill"
    )
    drain(services)
    view = services.runs.get_run(project_id, run.id)
    assert view.state is RunState.SUCCEEDED
    first, second = view.units
    assert (first.counts.read, first.counts.inserted, first.counts.errors) == (152, 150, 2)
    assert [(f.name, f.counts.read) for f in first.files] == [
        (f"events/{DAY}/a.csv", 102),
        (f"events/{DAY}/b.csv", 50),
    ]
    assert second.counts.inserted == 10
    assert services.warehouse.query("SELECT count(*) FROM acme__statsig.events") == [(160,)]
    assert [h.state for h in first.history] == [
        "enqueued",
        "started",
        "downloading",
        "loading",
        "succeeded",
    ]


def test_rerunning_a_day_replaces_it_instead_of_duplicating(services: Services) -> None:
    project_id = add_source(services)
    write_events(
        services.settings.data_dir / "files" / "acme" / "events" / DAY.isoformat() / "a.csv", 40
    )
    for _ in range(3):
        services.runs.start_source_run(project_id, ["events"], [DAY], trigger="backfill")
        drain(services)
    assert services.warehouse.query("SELECT count(*) FROM acme__statsig.events") == [(40,)]
    ledger = services.warehouse.query("SELECT count(*), max(inserted) FROM _ingestd.ledger")
    assert ledger == [(1, 40)]


def test_a_missing_day_fails_permanently_without_retry(services: Services) -> None:
    project_id = add_source(services)
    run = services.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    drain(services)
    unit = services.runs.get_run(project_id, run.id).units[0]
    assert unit.state is UnitState.FAILED and unit.attempt == 1
    assert (unit.error_code, unit.failure_status) == ("SOURCE_NOT_FOUND", FailureClass.PERMANENT)
    assert "no file matches" in (unit.error_message or "")


def test_an_empty_day_succeeds_as_empty(services: Services) -> None:
    project_id = add_source(services)
    path = services.settings.data_dir / "files" / "acme" / "events" / DAY.isoformat() / "a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("user,event,ts\n")
    run = services.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    drain(services)
    unit = services.runs.get_run(project_id, run.id).units[0]
    assert unit.state is UnitState.SUCCEEDED and unit.counts.read == 0


def test_the_pool_runs_units_in_parallel_threads(services: Services) -> None:
    project_id = add_source(services)
    days = [DAY + timedelta(days=i) for i in range(6)]
    for day in days:
        write_events(
            services.settings.data_dir / "files" / "acme" / "events" / day.isoformat() / "a.csv", 20
        )
    run = services.runs.start_source_run(project_id, ["events"], days, trigger="backfill")
    pool = services.pool(workers=3)
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while services.runs.get_run(project_id, run.id).state is not RunState.SUCCEEDED:
            assert time.monotonic() < deadline, "the pool did not finish the run"
            time.sleep(0.1)
    finally:
        pool.stop()
    assert services.warehouse.query("SELECT count(*) FROM acme__statsig.events") == [(120,)]


_CHILD = """
import sys, time
from pathlib import Path
from ingestd.services import Services
from ingestd.dataplane import pipeline
from ingestd.settings import Settings

marker = Path(sys.argv[2])
original = pipeline._Load._commit
def slow_commit(self, *args, **kwargs):
    marker.write_text("staged")  # the unit is mid-load: staged, not yet committed
    time.sleep(60)
    return original(self, *args, **kwargs)
pipeline._Load._commit = slow_commit
services = Services(Settings(data_dir=Path(sys.argv[1]), lease_seconds=1))
pool = services.pool(workers=1)
pool.run_once()
"""


@pytest.mark.slow
def test_a_unit_killed_mid_load_is_picked_up_again_and_loaded_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    services = make_services(data_dir, lease_seconds=1)
    project_id = add_source(services)
    write_events(data_dir / "files" / "acme" / "events" / DAY.isoformat() / "a.csv", 200_000, bad=3)
    run = services.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    services.close()  # the child process must own the DuckDB file

    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(data_dir), str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, "the child exited before it was mid-load"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    services = make_services(data_dir, lease_seconds=1)
    try:
        time.sleep(1.2)  # let the dead worker's lease run out
        drain(services)
        view = services.runs.get_run(project_id, run.id)
        unit = view.units[0]
        assert view.state is RunState.SUCCEEDED and unit.attempt == 2
        assert "retrying" in [h.state for h in unit.history]
        assert (unit.counts.read, unit.counts.inserted, unit.counts.errors) == (200_003, 200_000, 3)
        loaded = services.warehouse.query(
            "SELECT count(*), count(DISTINCT (unit_id, event_name, timestamp)) "
            "FROM acme__statsig.events"
        )
        assert loaded == [(200_000, 200_000)]
        assert services.warehouse.query("SELECT count(*) FROM _ingestd.quarantine") == [(3,)]
    finally:
        services.close()
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM _ingestd.ledger").fetchone() == (1,)


@pytest.mark.parametrize("what", ["run", "unit"])
def test_canceling_stops_a_running_unit_before_it_commits(
    services: Services, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    from ingestd.dataplane import pipeline

    project_id = add_source(services)
    write_events(
        services.settings.data_dir / "files" / "acme" / "events" / DAY.isoformat() / "a.csv", 500
    )
    original = pipeline._Load._commit

    def commit_after_cancel(self: pipeline._Load, *args: object) -> None:
        # Hold the unit between staging and commit until the cancel reaches it.
        deadline = time.monotonic() + 30
        while not self.cancel.canceled and time.monotonic() < deadline:
            time.sleep(0.05)
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline._Load, "_commit", commit_after_cancel)
    run = services.runs.start_source_run(project_id, ["events"], [DAY], trigger="manual")
    pool = services.pool(workers=1)
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while services.runs.get_run(project_id, run.id).units[0].state is not UnitState.LOADING:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        if what == "run":
            services.runs.cancel_run(project_id, run.id)
        else:
            services.runs.cancel_unit(project_id, run.units[0].id)
        while services.runs.get_run(project_id, run.id).state is not RunState.CANCELED:
            assert time.monotonic() < deadline, services.runs.get_run(project_id, run.id)
            time.sleep(0.05)
    finally:
        pool.stop()
    unit = services.runs.get_run(project_id, run.id).units[0]
    assert unit.state is UnitState.CANCELED
    assert services.warehouse.query("SELECT count(*) FROM acme__statsig.events") == [(0,)]
    assert services.warehouse.query("SELECT count(*) FROM _ingestd.ledger") == [(0,)]
