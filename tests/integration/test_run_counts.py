"""Kept run counts (store/run_counts.py, migration 0017): every run list's total is the number
of runs, whatever the kind and origin asked for, on both metadata backends."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingestd.domain.origins import RunOrigin
from ingestd.domain.states import RunState
from ingestd.services import Services
from ingestd.store.run_counts import runs_total
from ingestd.store.run_lists import runs_page
from ingestd.store.runs import NewRun, SqlRuns
from ingestd.store.schema import Run, RunCount
from tests.conftest import make_services
from tests.integration.test_migration_0005 import alembic

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KINDS = ("source", "blobs", "stream")
ORIGINS: tuple[RunOrigin | None, ...] = (None, RunOrigin.STATSIG, RunOrigin.KUSTO, RunOrigin.CLI)


@pytest.fixture
def svc(tmp_path: Path, database_url: str) -> Iterator[Services]:
    services = make_services(tmp_path / "data", database_url)
    yield services
    services.close()


def _run(
    project_id: int, kind: str, origin: RunOrigin | None, at: datetime, key: str | None = None
) -> NewRun:
    return NewRun(
        id=str(uuid.uuid4()),
        project_id=project_id,
        trigger="api",
        kind=kind,
        state=RunState.SUCCEEDED,
        days=[],
        source_names=[],
        idempotency_key=key,
        request={},
        origin=origin,
        created_at=at,
        ended_at=at,
    )


def _counted(svc: Services, project_id: int, kind: str | None, origin: str | None) -> int:
    query = select(func.count()).select_from(Run).where(Run.project_id == project_id)
    if kind is not None:
        query = query.where(Run.kind == kind)
    if origin is not None:
        query = query.where(Run.origin == origin)
    with svc.store.read() as session:
        return int(session.scalar(query) or 0)


def _check_every_filter(svc: Services, projects: list[int]) -> None:
    with svc.store.read() as session:
        for project_id, kind, origin in product(
            projects, (None, *KINDS), (None, *(o.value for o in ORIGINS if o is not None))
        ):
            expected = _counted(svc, project_id, kind, origin)
            assert runs_total(session, project_id, kind, origin) == expected
            _, total = runs_page(session, project_id, kind=kind, origin=origin, limit=5)
            assert total == expected


@pytest.mark.parametrize("seed", [3, 11])
def test_totals_are_the_runs_created(svc: Services, seed: int) -> None:
    rng = random.Random(seed)
    runs = SqlRuns(svc.store)
    projects = [svc.access.ensure_project(name) for name in ("alpha", "beta")]
    for i in range(60):
        made = _run(
            rng.choice(projects), rng.choice(KINDS), rng.choice(ORIGINS), AT + timedelta(minutes=i)
        )
        assert runs.create(made, [])
    _check_every_filter(svc, projects)


def test_a_run_refused_for_its_idempotency_key_is_not_counted(svc: Services) -> None:
    runs = SqlRuns(svc.store)
    project_id = svc.access.ensure_project("alpha")
    assert runs.create(_run(project_id, "source", RunOrigin.STATSIG, AT, key="once"), [])
    assert not runs.create(_run(project_id, "source", RunOrigin.STATSIG, AT, key="once"), [])
    with svc.store.read() as session:
        assert runs_total(session, project_id, "source", None) == 1


def test_the_migration_counts_the_runs_there_were(svc: Services) -> None:
    runs = SqlRuns(svc.store)
    projects = [svc.access.ensure_project(name) for name in ("alpha", "beta")]
    for i, (kind, origin) in enumerate(product(KINDS, ORIGINS)):
        assert runs.create(_run(projects[i % 2], kind, origin, AT + timedelta(minutes=i)), [])
    alembic(svc.store, "downgrade", "0016")
    alembic(svc.store, "upgrade", "0017")
    _check_every_filter(svc, projects)


def test_runs_created_at_once_are_each_counted(tmp_path: Path, postgres_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    svc = make_services(tmp_path / "data", postgres_url)
    try:
        project_id = svc.access.ensure_project("alpha")
        runs = SqlRuns(svc.store)
        start = threading.Barrier(8)
        failures: list[BaseException] = []

        def create(i: int) -> None:
            try:
                start.wait()
                for j in range(10):
                    at = AT + timedelta(seconds=i * 100 + j)
                    assert runs.create(_run(project_id, "blobs", RunOrigin.KUSTO, at), [])
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures
        with svc.store.read() as session:
            assert runs_total(session, project_id, "blobs", "kusto") == 80
            rows = session.scalars(select(RunCount).where(RunCount.project_id == project_id))
            assert [(r.kind, r.origin, r.runs) for r in rows] == [("blobs", "kusto", 80)]
    finally:
        svc.close()
