"""The kept cell counts (store.status_counts) answer the status list exactly as counting the
cells did: the same total and the same rows of every page, for every filter, on SQLite and
PostgreSQL, while sources are created, deleted, recreated, renamed and change dataset and runs
add new cells or rerun old ones; concurrent runs of one cell count it once (PostgreSQL)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import and_, func, select, text, update
from sqlalchemy.orm import Session

from ingestd.domain.clock import FixedClock
from ingestd.domain.datasets import DATASET_TABLES
from ingestd.services import Services
from ingestd.store import status_counts
from ingestd.store.daily_status import StatusQuery, UnitDay, record_newest, status_page
from ingestd.store.schema import Source, SourceDay, SourceDayCount
from ingestd.store.transaction import Transaction
from tests.conftest import make_services
from tests.integration.test_migration_0005 import alembic

DAY0 = date(2024, 5, 1)
DAYS = [DAY0 + timedelta(days=i) for i in range(7)]
NAMES = ["ant", "bee", "cat", "dog", "eel"]
DATASETS: list[str | None] = [None, "events", "metrics", ""]
CLOCK = FixedClock(datetime(2024, 6, 1, 12, tzinfo=UTC))


@pytest.fixture
def svc(tmp_path: Path, database_url: str) -> Iterator[Services]:
    services = make_services(tmp_path / "data", database_url, clock=CLOCK)
    yield services
    services.close()


def _project(svc: Services, name: str) -> int:
    project_id = svc.access.ensure_project(name)
    svc.catalog.create_table(project_id, DATASET_TABLES["events"], merge=True)
    return project_id


def _create(svc: Services, project_id: int, name: str, dataset: str | None) -> None:
    svc.catalog.create_source(
        project_id,
        name=name,
        table="statsig.events",
        dataset=dataset,
        path_template="/nonexistent/{ds}.csv",
    )


def _change(svc: Services, project_id: int, name: str, new_name: str, dataset: str | None) -> None:
    """A rename or a dataset change as the store would make one: the row, then its counts
    out under what it was and in under what it is, in one transaction."""
    with svc.store.write() as session:
        row = session.scalars(
            select(Source).where(Source.project_id == project_id, Source.name == name)
        ).one()
        old_dataset = row.dataset
        session.execute(
            update(Source).where(Source.id == row.id).values(name=new_name, dataset=dataset)
        )
        status_counts.remove_source_cells(session, project_id, name, old_dataset)
        status_counts.add_source_cells(session, project_id, new_name, dataset)


def _plain(session: Session, query: StatusQuery, limit: int, offset: int) -> tuple[list[str], int]:
    """The page and total as they were computed before the counts: every cell of the range
    joined to its source by name, counted, and skipped by OFFSET."""
    ids = (
        select(SourceDay.unit_id)
        .join(
            Source,
            and_(Source.project_id == SourceDay.project_id, Source.name == SourceDay.source_name),
        )
        .where(
            SourceDay.project_id == query.project_id,
            SourceDay.day >= query.start,
            SourceDay.day <= query.end,
        )
    )
    if query.source is not None:
        ids = ids.where(SourceDay.source_name == query.source)
    if query.dataset is not None:
        ids = ids.where(Source.dataset == query.dataset)
    total = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    page = session.scalars(
        ids.order_by(SourceDay.day, SourceDay.source_name).limit(limit).offset(offset)
    ).all()
    return list(page), int(total)


def _kept(session: Session) -> set[tuple[int, date, bool, str, int]]:
    rows = session.execute(
        select(
            SourceDayCount.project_id,
            SourceDayCount.day,
            SourceDayCount.has_dataset,
            SourceDayCount.dataset,
            SourceDayCount.cells,
        ).where(SourceDayCount.cells != 0)
    ).tuples()
    return {(p, d, bool(h), ds, n) for p, d, h, ds, n in rows}


def _counted(session: Session) -> set[tuple[int, date, bool, str, int]]:
    """The counts from scratch: cells of existing sources, by project, day and dataset."""
    rows = session.execute(
        select(SourceDay.project_id, SourceDay.day, Source.dataset, func.count())
        .join(
            Source,
            and_(Source.project_id == SourceDay.project_id, Source.name == SourceDay.source_name),
        )
        .group_by(SourceDay.project_id, SourceDay.day, Source.dataset)
    ).tuples()
    return {(p, d, ds is not None, ds or "", n) for p, d, ds, n in rows}


def _check(svc: Services, projects: list[int]) -> int:
    """Every page of every filter through status_page against the plain query; how many
    non-empty pages were compared."""
    compared = 0
    ranges = [(DAYS[0], DAYS[-1]), (DAYS[1], DAYS[3]), (DAYS[4], DAYS[4]), (DAYS[6], DAYS[2])]
    with svc.store.read() as session:
        assert _kept(session) == _counted(session)
        for project_id in projects:
            for start, end in ranges:
                for dataset in [None, "events", "metrics", "", "nothing"]:
                    for source in [None, "bee"]:
                        query = StatusQuery(project_id, start, end, source, dataset)
                        _, total = _plain(session, query, 1, 0)
                        for limit in (1, 3):
                            for offset in range(total + 2):
                                rows, got_total = status_page(
                                    session, query, limit=limit, offset=offset
                                )
                                want, want_total = _plain(session, query, limit, offset)
                                assert got_total == want_total == total, (query, offset)
                                assert [r.unit.id for r in rows] == want, (query, limit, offset)
                                compared += bool(want)
    return compared


@pytest.mark.parametrize("seed", [1, 2])
def test_pages_and_totals_match_counting_the_cells(svc: Services, seed: int) -> None:
    rng = random.Random(seed)
    projects = [_project(svc, "acme"), _project(svc, "globex")]
    existing: dict[tuple[int, str], str | None] = {}
    compared = orphans = 0
    kinds = {"create": 0, "delete": 0, "change": 0, "run": 0}
    for step in range(40):
        project_id = rng.choice(projects)
        here = sorted(name for p, name in existing if p == project_id)
        absent = [n for n in NAMES if n not in here]
        kind = rng.choice(["create", "create", "delete", "change", "run", "run", "run"])
        if kind == "create" and absent:
            name, dataset = rng.choice(absent), rng.choice(DATASETS)
            _create(svc, project_id, name, dataset)
            existing[(project_id, name)] = dataset
        elif kind == "delete" and here:
            name = rng.choice(here)
            svc.catalog.delete_source(project_id, name)
            del existing[(project_id, name)]
        elif kind == "change" and here:
            name = rng.choice(here)
            new_name = rng.choice([name, *absent])  # a dataset change, a rename, or both
            dataset = rng.choice(DATASETS)
            _change(svc, project_id, name, new_name, dataset)
            del existing[(project_id, name)]
            existing[(project_id, new_name)] = dataset
        elif kind == "run" and here:
            names = rng.sample(here, rng.randint(1, len(here)))
            days = rng.sample(DAYS, rng.randint(1, 4))  # some cells new, some reruns
            svc.runs.start_source_run(project_id, names, days, trigger="backfill")
        else:
            continue
        kinds[kind] += 1
        if step % 8 == 7:
            compared += _check(svc, projects)
            orphans = max(orphans, _uncounted_cells(svc))
    compared += _check(svc, projects)
    assert all(kinds.values()), kinds  # every kind of change happened
    assert compared > 50, compared
    assert orphans > 0  # at some point cells of a deleted or renamed-away source existed


def _uncounted_cells(svc: Services) -> int:
    with svc.store.read() as session:
        cells = session.scalar(select(func.count()).select_from(SourceDay)) or 0
        return cells - sum(n for *_, n in _counted(session))


def test_a_deleted_source_s_cells_come_back_with_a_source_of_its_name(svc: Services) -> None:
    project_id = _project(svc, "acme")
    _create(svc, project_id, "ant", "events")
    _create(svc, project_id, "bee", None)
    svc.runs.start_source_run(project_id, ["ant", "bee"], DAYS[:3], trigger="backfill")
    svc.runs.start_source_run(project_id, ["ant"], DAYS[1:4], trigger="scheduled")  # 1 new
    week = StatusQuery(project_id, DAYS[0], DAYS[-1])
    with svc.store.read() as session:
        assert status_page(session, week, limit=100, offset=0)[1] == 7
    svc.catalog.delete_source(project_id, "ant")
    with svc.store.read() as session:
        rows, total = status_page(session, week, limit=100, offset=0)
        assert total == 3 and {r.unit.source_name for r in rows} == {"bee"}
        events = StatusQuery(project_id, DAYS[0], DAYS[-1], dataset="events")
        assert status_page(session, events, limit=100, offset=0) == ([], 0)
    _create(svc, project_id, "ant", "metrics")
    with svc.store.read() as session:
        assert status_page(session, week, limit=100, offset=0)[1] == 7
        metrics = StatusQuery(project_id, DAYS[0], DAYS[-1], dataset="metrics")
        rows, total = status_page(session, metrics, limit=2, offset=2)
        assert total == 4 and [(r.unit.source_name, r.unit.day) for r in rows] == [
            ("ant", DAYS[2]),
            ("ant", DAYS[3]),
        ]
        assert _kept(session) == _counted(session)


def test_the_migration_fills_the_counts_from_the_cells(svc: Services) -> None:
    projects = [_project(svc, "acme"), _project(svc, "globex")]
    for project_id in projects:
        for name, dataset in zip(NAMES, [*DATASETS, "events"], strict=True):
            _create(svc, project_id, name, dataset)
        svc.runs.start_source_run(project_id, NAMES, DAYS[:5], trigger="backfill")
        svc.runs.start_source_run(project_id, NAMES[:2], DAYS[3:], trigger="backfill")
        svc.catalog.delete_source(project_id, "cat")
    with svc.store.read() as session:
        before = _kept(session)
    assert before == _counted_now(svc) and len(before) > 10
    alembic(svc.store, "downgrade", "0015")
    alembic(svc.store, "upgrade", "head")
    with svc.store.read() as session:
        assert _kept(session) == before
    _check(svc, projects)


def _counted_now(svc: Services) -> set[tuple[int, date, bool, str, int]]:
    with svc.store.read() as session:
        return _counted(session)


# -- concurrent writers (PostgreSQL: SQLite has one writer at a time) --------------------------


def _wait_for_a_lock_wait(svc: Services) -> None:
    """Until some session of this database waits for a lock (bounded: the test fails if none
    ever does, rather than passing without the race it is about)."""
    for _ in range(2000):
        with svc.store.engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.005)
    raise AssertionError("the second writer never waited for the first")


def _while_held(svc: Services, other: threading.Thread) -> None:
    """In a run's hook: start ``other`` while this run's transaction is open, and let it
    commit only once ``other`` waits for a lock this transaction holds."""
    other.start()
    _wait_for_a_lock_wait(svc)


@pytest.mark.postgres
def test_two_runs_creating_one_cell_at_once_count_it_once(
    tmp_path: Path, postgres_url: str
) -> None:
    engine_reset(postgres_url)
    svc = make_services(tmp_path / "data", postgres_url, clock=CLOCK)
    try:
        project_id = _project(svc, "acme")
        _create(svc, project_id, "ant", "events")
        errors: list[BaseException] = []
        second: list[str] = []

        def rerun() -> None:
            try:
                run = svc.runs.start_source_run(project_id, ["ant"], [DAYS[2]], trigger="api")
                second.append(run.id)
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        other = threading.Thread(target=rerun)

        def hook(transaction: Transaction, run_id: str) -> None:
            _while_held(svc, other)

        svc.runs.start_source_run(project_id, ["ant"], [DAYS[2]], trigger="backfill", then=hook)
        other.join(60)
        assert not errors and second
        with svc.store.read() as session:
            query = StatusQuery(project_id, DAYS[0], DAYS[-1])
            rows, total = status_page(session, query, limit=10, offset=0)
            assert total == 1 and len(rows) == 1
            assert rows[0].unit.run_id == second[0]  # the later run's unit is the cell's
            assert _kept(session) == _counted(session) == {(project_id, DAYS[2], True, "events", 1)}
    finally:
        svc.close()


@pytest.mark.postgres
def test_a_source_deleted_while_a_run_adds_its_cells_ends_uncounted(
    tmp_path: Path, postgres_url: str
) -> None:
    engine_reset(postgres_url)
    svc = make_services(tmp_path / "data", postgres_url, clock=CLOCK)
    try:
        project_id = _project(svc, "acme")
        _create(svc, project_id, "ant", "events")
        _create(svc, project_id, "bee", "events")
        errors: list[BaseException] = []

        def delete() -> None:
            try:
                svc.catalog.delete_source(project_id, "ant")
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        other = threading.Thread(target=delete)

        def hook(transaction: Transaction, run_id: str) -> None:
            _while_held(svc, other)

        svc.runs.start_source_run(
            project_id, ["ant", "bee"], DAYS[:3], trigger="backfill", then=hook
        )
        other.join(60)
        assert not errors
        with svc.store.read() as session:
            query = StatusQuery(project_id, DAYS[0], DAYS[-1], dataset="events")
            rows, total = status_page(session, query, limit=10, offset=1)
            assert total == 3 and [r.unit.source_name for r in rows] == ["bee", "bee"]
            assert _kept(session) == _counted(session)
    finally:
        svc.close()


def engine_reset(postgres_url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.mark.postgres
def test_a_source_created_while_cells_of_its_name_are_added_counts_them_once(
    tmp_path: Path, postgres_url: str
) -> None:
    """Cells whose name no source has yet (store-level: runs only name sources that exist)
    and the source's creation, at once: the advisory lock makes one of them count the cells."""
    engine_reset(postgres_url)
    svc = make_services(tmp_path / "data", postgres_url, clock=CLOCK)
    try:
        project_id = _project(svc, "acme")
        _create(svc, project_id, "ant", "events")
        run = svc.runs.start_source_run(project_id, ["ant"], DAYS[:2], trigger="backfill")
        units = [u.id for u in svc.runs.get_run(project_id, run.id).units]
        errors: list[BaseException] = []

        def create() -> None:
            try:
                _create(svc, project_id, "zed", "metrics")
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        other = threading.Thread(target=create)
        with svc.store.write() as session:
            record_newest(
                session,
                [
                    UnitDay(project_id, "zed", day, unit_id, CLOCK(), 0)
                    for day, unit_id in zip(DAYS[3:5], units, strict=True)
                ],
            )
            _while_held(svc, other)
        other.join(60)
        assert not errors
        with svc.store.read() as session:
            query = StatusQuery(project_id, DAYS[0], DAYS[-1], dataset="metrics")
            rows, total = status_page(session, query, limit=10, offset=1)
            assert total == 2 and [(r.unit.id) for r in rows] == [units[1]]
            assert _kept(session) == _counted(session)
    finally:
        svc.close()
