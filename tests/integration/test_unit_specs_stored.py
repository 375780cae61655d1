"""Unit specs in the metadata: written with their version and kind, read back (also as rows
written before versions), and only ever for the claiming project's own units."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from ingestd.control.runs import Claim
from ingestd.domain.connections import connection_body
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.domain.unit_specs import SourceDayUnitSpec, StreamBatchUnitSpec
from ingestd.errors import NotFound
from ingestd.services import Services
from ingestd.store.schema import Unit

DAY = date(2024, 3, 1)
ORDERS = TableSpec(
    "shop",
    "orders",
    (Column("id", ColumnType.INT64, nullable=False), Column("amount", ColumnType.INT64)),
)


def _orders_source(services: Services, project: str) -> int:
    project_id = services.access.ensure_project(project)
    services.catalog.create_table(project_id, ORDERS)
    folder = services.settings.data_dir / "files" / project / "orders"
    folder.mkdir(parents=True)
    (folder / f"{DAY}.csv").write_text("id,amount\n1,10\n2,x\n3,7\n")
    services.catalog.create_connection(
        project_id, "in", connection_body("file", {"root": str(folder)})
    )
    services.catalog.create_source(
        project_id, name="orders", table="shop.orders", connection="in", path_template="{ds}.csv"
    )
    return project_id


def _stored(services: Services, unit_id: str) -> dict[str, object]:
    with services.store.read() as session:
        spec = session.scalar(select(Unit.spec).where(Unit.id == unit_id))
    assert isinstance(spec, dict)
    return spec


def _drain(services: Services) -> None:
    pool = services.pool(workers=1)
    while pool.run_once():
        pass


def test_a_source_day_is_stored_with_its_version_and_loads(services: Services) -> None:
    project_id = _orders_source(services, "acme")
    run = services.runs.start_source_run(project_id, ["orders"], [DAY], trigger="manual")
    unit_id = run.units[0].id
    assert _stored(services, unit_id) == {
        "version": 1,
        "kind": "source_day",
        "table": "shop.orders",
        "source": "orders",
        "day": "2024-03-01",
    }
    _drain(services)
    unit = services.runs.get_run(project_id, run.id).units[0]
    assert (unit.state.value, unit.counts.read, unit.counts.inserted, unit.counts.errors) == (
        "succeeded",
        3,
        2,
        1,
    )


def test_a_unit_row_written_before_versions_still_runs(services: Services) -> None:
    project_id = _orders_source(services, "acme")
    run = services.runs.start_source_run(project_id, ["orders"], [DAY], trigger="manual")
    unit_id = run.units[0].id
    with services.store.write() as session:  # what ingestd wrote for a source's day before
        row = session.get(Unit, unit_id)
        assert row is not None
        row.spec = {}
    _drain(services)
    unit = services.runs.get_run(project_id, run.id).units[0]
    assert (unit.state.value, unit.counts.read, unit.counts.inserted) == ("succeeded", 3, 2)


def test_a_stream_batch_is_stored_as_one(services: Services) -> None:
    project_id = services.access.ensure_project("acme")
    services.catalog.create_table(project_id, ORDERS)
    services.streams.create_stream(project_id, "orders", "shop.orders")
    services.streams.accept(project_id, "orders", b'{"id": 5, "amount": 3}')
    (run,) = services.streams.flush(project_id, "orders")
    claim = Claim(run.units[0].id, run.id, project_id, 1)
    spec = services.runs.claimed_unit(claim).spec
    assert isinstance(spec, StreamBatchUnitSpec)
    assert (spec.kind.value, spec.table, spec.source) == ("stream_batch", "shop.orders", "orders")
    assert _stored(services, run.units[0].id)["kind"] == "stream_batch"
    _drain(services)
    assert services.runs.get_run(project_id, run.id).units[0].counts.inserted == 1


def test_another_projects_claim_cannot_read_a_units_spec(services: Services) -> None:
    acme = _orders_source(services, "acme")
    beta = services.access.ensure_project("beta")
    run = services.runs.start_source_run(acme, ["orders"], [DAY], trigger="manual")
    unit_id = run.units[0].id
    own = services.runs.claimed_unit(Claim(unit_id, run.id, acme, 1))
    assert own.spec == SourceDayUnitSpec(table="shop.orders", source="orders", day=DAY)
    with pytest.raises(NotFound):
        services.runs.claimed_unit(Claim(unit_id, run.id, beta, 1))
