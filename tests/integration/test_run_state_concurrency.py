"""Units of one run ending at the same moment on different workers (the Celery mode's normal
case): every ending is recorded, and PostgreSQL finds no deadlock between them. Each ending
adds a status event, whose foreign key takes a key-share lock on the run's row, and then
re-derives the run's state under a lock on that row: that lock must not conflict with the
other endings' key-share locks (FOR NO KEY UPDATE, not FOR UPDATE)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from ingestd.control.runs import Claim
from ingestd.dataplane.contract import Counts, LoadResult
from ingestd.domain.states import RunState
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.test_engine import add_source

pytestmark = pytest.mark.postgres

UNITS = 8


@pytest.fixture
def svc(tmp_path: Path, postgres_url: str) -> Iterator[Services]:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    services = make_services(tmp_path / "data", postgres_url)
    yield services
    services.close()


def _end_all_at_once(svc: Services, held: list[tuple[Claim, str]]) -> list[BaseException]:
    """Record every held unit succeeded by its worker, all released at the same instant."""
    start = threading.Barrier(len(held))
    errors: list[BaseException] = []

    def finish(claim: Claim, worker: str) -> None:
        start.wait()
        try:
            result = LoadResult(claim.unit_id, [], Counts(), "")
            svc.runs.succeed(claim.unit_id, worker, result, None)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=pair) for pair in held]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_units_of_one_run_ending_at_once_are_all_recorded(svc: Services) -> None:
    project_id = add_source(svc)
    for attempt in range(4):
        days = [date(2024, 1, 1) + timedelta(days=attempt * UNITS + d) for d in range(UNITS)]
        run = svc.runs.start_source_run(project_id, ["events"], days, trigger="backfill")
        held: list[tuple[Claim, str]] = []
        for n in range(UNITS):
            worker = f"worker-{n}"
            claim = svc.runs.claim_next(worker, 60)
            assert claim is not None and claim.run_id == run.id
            held.append((claim, worker))
        assert not _end_all_at_once(svc, held)
        assert svc.runs.get_run(project_id, run.id).state is RunState.SUCCEEDED
