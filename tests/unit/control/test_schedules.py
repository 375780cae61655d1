"""The schedules ``DatasetSources`` and ``Runs`` give the scheduler, over the SQLite schedule
repository (``store.schedules``): a dataset's hour (10 PST unless set), the datasets that have
enabled sources, and the sources with an hour of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.control.access import Access
from ingestd.control.catalog import Catalog
from ingestd.control.runs import Runs
from ingestd.control.statsig.datasets import DatasetSources
from ingestd.domain.datasets import DATASET_TABLES
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.retry import RetryPolicy
from ingestd.errors import InvalidInput
from ingestd.store.database import Store


@pytest.fixture
def catalog(store: Store, tmp_path: Path) -> Catalog:
    return Catalog(store, lambda _project: ProjectFiles(project="acme", roots=(tmp_path,)))


@pytest.fixture
def runs(store: Store, catalog: Catalog) -> Runs:
    return Runs(store, catalog, RetryPolicy())


@pytest.fixture
def datasets(store: Store, catalog: Catalog, runs: Runs) -> DatasetSources:
    return DatasetSources(store, catalog, runs)


def _source(
    catalog: Catalog,
    project: int,
    name: str,
    *,
    dataset: str | None = None,
    schedule_hour_pst: int | None = None,
    api_triggered: bool = False,
    enabled: bool = True,
) -> None:
    catalog.create_table(project, DATASET_TABLES["events"], merge=True)
    catalog.create_source(
        project,
        name=name,
        table="statsig.events",
        path_template=f"/data/{name}/{{ds}}.csv",
        dataset=dataset,
        schedule_hour_pst=schedule_hour_pst,
        api_triggered=api_triggered,
        enabled=enabled,
    )


def test_a_dataset_runs_at_ten_pst_until_its_hour_is_set(
    datasets: DatasetSources, store: Store
) -> None:
    acme, rival = Access(store).ensure_project("acme"), Access(store).ensure_project("rival")
    assert datasets.schedule_hour(acme, "Events") == 10
    assert datasets.set_schedule_hour(acme, "Events", 3) == 3
    assert datasets.set_schedule_hour(acme, "Events", 4) == 4  # changed, not added
    assert (datasets.schedule_hour(acme, "Events"), datasets.schedule_hour(rival, "Events")) == (
        4,
        10,
    )
    with pytest.raises(InvalidInput, match="between 0 and 23"):
        datasets.set_schedule_hour(acme, "Events", 24)
    assert datasets.schedule_hour(acme, "Events") == 4


def test_scheduled_datasets_are_those_with_enabled_sources_at_their_hours(
    datasets: DatasetSources, catalog: Catalog, store: Store
) -> None:
    acme, rival = Access(store).ensure_project("acme"), Access(store).ensure_project("rival")
    assert datasets.scheduled_datasets() == []
    _source(catalog, acme, "web", dataset="events")
    _source(catalog, acme, "app", dataset="events")
    _source(catalog, rival, "off", dataset="events", enabled=False)
    _source(catalog, rival, "plain")  # not a dataset's
    datasets.set_schedule_hour(acme, "Events", 6)
    datasets.set_schedule_hour(rival, "Events", 7)  # no enabled source: not scheduled
    assert datasets.scheduled_datasets() == [(acme, "events", 6)]
    _source(catalog, rival, "on", dataset="events")
    assert datasets.scheduled_datasets() == [(acme, "events", 6), (rival, "events", 7)]


def test_sources_with_an_hour_of_their_own(runs: Runs, catalog: Catalog, store: Store) -> None:
    acme, rival = Access(store).ensure_project("acme"), Access(store).ensure_project("rival")
    _source(catalog, acme, "hourly", schedule_hour_pst=5, api_triggered=True)
    _source(catalog, acme, "unscheduled")
    _source(catalog, acme, "paused", schedule_hour_pst=5, enabled=False)
    _source(catalog, rival, "theirs", schedule_hour_pst=22, dataset="events")
    found = {
        (s.project_id, s.name, s.schedule_hour_pst, s.api_triggered, s.dataset)
        for s in runs.source_ids_with_schedule()
    }
    assert found == {(acme, "hourly", 5, True, None), (rival, "theirs", 22, False, "events")}
    assert [s.name for s in runs.source_ids_with_schedule(rival)] == ["theirs"]
