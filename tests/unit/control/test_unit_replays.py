"""The unit a quarantine replay loads again, over SQLite (``store.unit_replays``): what it
loaded, and its counts (and its files') moving from errors to what the replay loaded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ingestd.control.access import Access
from ingestd.control.catalog import Catalog
from ingestd.control.runs import NewUnit, Runs
from ingestd.dataplane.contract import Counts, FileResult, LoadResult
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.retry import RetryPolicy
from ingestd.domain.run_views import FileView
from ingestd.domain.unit_specs import FileUnitSpec, SourceDayUnitSpec
from ingestd.store.database import Store
from ingestd.store.unit_replays import move_replayed_counts, replayed_unit

DAY = date(2026, 2, 28)


def test_a_replay_moves_its_rows_from_errors_to_what_it_loaded(
    store: Store, tmp_path: Path
) -> None:
    project = Access(store).ensure_project("acme")
    catalog = Catalog(store, lambda _project: ProjectFiles(project="acme", roots=(tmp_path,)))
    runs = Runs(store, catalog, RetryPolicy())
    spec = SourceDayUnitSpec(table="statsig.events", source="web", day=DAY)
    other = FileUnitSpec(table="shop.orders", inputs=("o.csv",), input_names=())
    run = runs.create_run(
        project,
        kind="source",
        trigger="api",
        units=[NewUnit("source:1:2026-02-28", spec), NewUnit("file:o.csv", other)],
    )
    unit_id, untouched = (u.id for u in run.units)
    claim = runs.claim_unit(unit_id, "w1", 30.0)
    assert claim is not None
    loaded = Counts(read=10, inserted=6, errors=4)
    files = [
        FileResult("a.csv", Counts(read=6, inserted=5, errors=1)),
        FileResult("b.csv", Counts(read=4, inserted=1, errors=3)),
    ]
    runs.succeed(unit_id, "w1", LoadResult("source:1:2026-02-28", files, loaded, ""), None)

    unit = replayed_unit(store, unit_id)
    assert unit is not None
    assert (unit.id, unit.run_id, unit.day, unit.source_name, unit.spec) == (
        unit_id,
        run.id,
        DAY,
        "web",
        spec,
    )
    assert replayed_unit(store, "no-such-unit") is None

    # 3 of b.csv's rows replayed: 2 now load (1 inserted, 1 updated), 1 still fails.
    replay = Counts(read=3, inserted=1, updated=1, errors=1)
    move_replayed_counts(store, unit_id, replay, [FileView("b.csv", replay, False)])

    view = runs.get_run(project, run.id)
    moved, other_unit = view.units
    assert moved.counts == Counts(read=10, inserted=7, updated=1, errors=2)
    assert [(f.name, f.counts) for f in moved.files] == [
        ("a.csv", Counts(read=6, inserted=5, errors=1)),
        ("b.csv", Counts(read=4, inserted=2, updated=1, errors=1)),
    ]
    assert other_unit.id == untouched and other_unit.counts == Counts()
