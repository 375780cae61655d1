"""Migration 0010 (source_days): an existing store gets the newest unit of every source and
day, so the status lists answer the same before and after it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select

from ingestd.store.database import Store
from ingestd.store.schema import Base, SourceDay
from tests.integration.test_migration_0005 import alembic
from tests.integration.test_status_paging import DAYS, World, reference, world

__all__ = ["world"]  # the fixture, shared with the paging tests


def _cells(world: World) -> list[tuple[str, str, str]]:
    with world.services.store.read() as session:
        rows = session.execute(
            select(SourceDay.source_name, SourceDay.day, SourceDay.unit_id).order_by(
                SourceDay.project_id, SourceDay.source_name, SourceDay.day
            )
        ).all()
    return [(name, day.isoformat(), unit) for name, day, unit in rows]


def test_the_upgrade_fills_source_days_from_the_units(world: World, tmp_path: Path) -> None:
    params = {"startDate": DAYS[0].isoformat(), "endDate": DAYS[-1].isoformat(), "limit": 100}
    before = world.get("/console/v1/ingestion/status", world.acme, params)
    cells = _cells(world)
    assert len(cells) == 2 * 3 * len(DAYS)  # two projects, three sources
    store = world.services.store
    alembic(store, "downgrade", "0009")
    alembic(store, "upgrade", "0010")
    alembic(store, "upgrade", "head")  # the later columns the app's models read
    assert _cells(world) == cells
    after = world.get("/console/v1/ingestion/status", world.acme, params)
    assert after == before
    assert [r["status"] for r in after["data"]] == [
        r["status"] for r in reference(world.services, "acme")
    ]


def test_every_index_the_models_declare_is_migrated(database_url: str) -> None:
    """The migrations create each index the models name (the status reads depend on them)."""
    store = Store(database_url)
    try:
        store.migrate()
        found = inspect(store.engine)
        for table in Base.metadata.sorted_tables:
            declared = {index.name for index in table.indexes}
            migrated = {index["name"] for index in found.get_indexes(table.name)}
            assert declared <= migrated, (table.name, declared - migrated)
        alembic(store, "downgrade", "0009")
        alembic(store, "upgrade", "0010")
    finally:
        store.dispose()
