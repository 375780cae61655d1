"""The run repositories' locks and conditional updates (``store.unit_states``), on the real
databases: a lease goes to one of two claims, on SQLite and PostgreSQL alike; in PostgreSQL a
worker's move holds its unit's row FOR UPDATE, and re-deriving a run's state holds the run's row
FOR NO KEY UPDATE, which the key-share locks of other units' status events do not wait for."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from ingestd.control.access import Access
from ingestd.domain.states import RunState, UnitState
from ingestd.domain.unit_specs import FileUnitSpec
from ingestd.store.database import Store
from ingestd.store.runs import NewRun, PlannedUnit, SqlRuns
from ingestd.store.unit_states import UnitStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RUN = "0b9f1c52-6f0a-4b53-9a55-2d3f3f8b1a01"
UNIT = "0b9f1c52-6f0a-4b53-9a55-2d3f3f8b1a02"


def _one_unit_run(store: Store) -> SqlRuns:
    project = Access(store).ensure_project("acme")
    runs = SqlRuns(store)
    spec = FileUnitSpec(table="shop.orders", inputs=("a.csv",), input_names=())
    created = runs.create(
        NewRun(RUN, project, "api", "file", RunState.ENQUEUED, [], [], None, {}, None, NOW, None),
        [PlannedUnit(UNIT, "file:a.csv", spec, None, None, None, None, None, 3)],
    )
    assert created
    return runs


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    opened.migrate()
    yield opened
    opened.dispose()


def test_of_two_claims_of_one_unit_the_first_takes_the_lease(store: Store) -> None:
    runs = _one_unit_run(store)
    later: list[UnitStatus | None] = []

    def second_claim() -> None:
        with runs.moves() as moves:
            expires = NOW + timedelta(seconds=30)
            later.append(moves.take_lease(UNIT, UnitState.ENQUEUED, None, "w2", expires))

    with runs.moves() as moves:
        first = moves.take_lease(UNIT, UnitState.ENQUEUED, None, "w1", NOW + timedelta(seconds=30))
        # The second claim waits for this transaction (PostgreSQL: the row; SQLite: the
        # database), then finds the lease taken, whenever it ran.
        other = threading.Thread(target=second_claim)
        other.start()
    other.join(60)
    assert first is not None and first.lease_owner == "w1"
    assert later == [None]
    with runs.moves() as moves:
        held = moves.unit(UNIT)
    assert held is not None and held.lease_owner == "w1"


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[tuple[Store, Engine]]:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    opened = Store(postgres_url)
    opened.migrate()
    yield opened, engine
    opened.dispose()
    engine.dispose()


def _lock(engine: Engine, table: str, row_id: str, strength: str) -> None:
    """Take a row lock of ``strength`` from another connection, failing if it would wait."""
    with engine.connect() as conn:
        conn.execute(
            text(f"SELECT id FROM {table} WHERE id = :id FOR {strength} NOWAIT"), {"id": row_id}
        )


@pytest.mark.postgres
def test_locks_of_a_move_in_postgresql(postgres_store: tuple[Store, Engine]) -> None:
    store, engine = postgres_store
    runs = _one_unit_run(store)
    with runs.moves() as moves:
        held = moves.hold(UNIT)
        assert held is not None and held.state is UnitState.ENQUEUED
        with pytest.raises(OperationalError, match="could not obtain lock"):
            _lock(engine, "units", UNIT, "KEY SHARE")  # FOR UPDATE: nothing else gets the row
        run = moves.lock_run(RUN)
        assert (run.state, run.cancel_requested) == (RunState.ENQUEUED, False)
        # A status event of another unit of the run (its foreign key's lock) does not wait...
        _lock(engine, "runs", RUN, "KEY SHARE")
        # ...while another re-derivation of the run's state does.
        with pytest.raises(OperationalError, match="could not obtain lock"):
            _lock(engine, "runs", RUN, "NO KEY UPDATE")
    _lock(engine, "runs", RUN, "UPDATE")  # released with the transaction
    _lock(engine, "units", UNIT, "UPDATE")
