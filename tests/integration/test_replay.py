"""Quarantine replay: fix the mapping or the table, load the bad rows again, counts move."""

from __future__ import annotations

from datetime import date

from ingestd.domain.connections import connection_body
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.services import Services

DAY = date(2024, 3, 1)


def _drain(services: Services) -> None:
    pool = services.pool(workers=1)
    while pool.run_once():
        pass


def test_replay_after_a_mapping_fix_moves_rows_from_errors_to_inserted(services: Services) -> None:
    project_id = services.access.ensure_project("acme")
    orders = TableSpec(
        "shop",
        "orders",
        (Column("id", ColumnType.INT64, nullable=False), Column("amount", ColumnType.INT64)),
    )
    services.catalog.create_table(project_id, orders)
    folder = services.settings.data_dir / "files" / "acme" / "orders"
    folder.mkdir(parents=True)
    (folder / f"{DAY}.csv").write_text('id,amount\n1,10\n2,10.5\n3,7\n4,x\n5,"a,b\n')
    services.catalog.create_connection(
        project_id, "in", connection_body("file", {"root": str(folder)})
    )
    services.catalog.create_source(
        project_id, name="orders", table="shop.orders", connection="in", path_template="{ds}.csv"
    )
    run = services.runs.start_source_run(project_id, ["orders"], [DAY], trigger="manual")
    _drain(services)
    unit = services.runs.get_run(project_id, run.id).units[0]
    assert (unit.counts.read, unit.counts.inserted, unit.counts.errors) == (5, 2, 3)

    # The fix: a decimal column for the amount, and the mapping points there.
    services.catalog.create_table(
        project_id,
        TableSpec("shop", "orders", (Column("amount_exact", ColumnType.FLOAT64), *orders.columns)),
        merge=True,
    )
    services.catalog.update_source(
        project_id,
        "orders",
        mapping=Mapping(
            (
                FieldMapping("id", SourceRef(RefKind.COLUMN, "id")),
                FieldMapping("amount_exact", SourceRef(RefKind.COLUMN, "amount")),
            )
        ),
    )
    result = services.replay.replay(project_id, "shop.orders")
    assert (result.replayed, result.loaded, result.still_failing, result.not_replayable) == (
        2,
        1,
        1,
        1,
    )

    unit = services.runs.get_run(project_id, run.id).units[0]
    assert (unit.counts.read, unit.counts.inserted, unit.counts.errors) == (5, 3, 2)
    assert unit.files[0].counts.inserted == 3 and unit.files[0].counts.errors == 2
    rows = services.warehouse.query(
        "SELECT id, amount, amount_exact FROM acme__shop.orders ORDER BY id"
    )
    assert rows == [(1, 10, None), (2, None, 10.5), (3, 7, None)]
    codes = services.warehouse.query(
        "SELECT code, raw FROM _ingestd.quarantine ORDER BY coalesce(line, record)"
    )
    assert sorted(c for c, _ in codes) == ["TYPE_MISMATCH", "UNCLOSED_QUOTE"]
    ledger = services.warehouse.query(
        "SELECT read, inserted, errors FROM _ingestd.ledger WHERE load_key LIKE 'source:%'"
    )
    assert ledger == [(5, 3, 2)]

    # A rerun of the day still replaces everything the key loaded: nothing doubles.
    services.runs.start_source_run(project_id, ["orders"], [DAY], trigger="backfill")
    _drain(services)
    assert services.warehouse.query("SELECT count(*) FROM acme__shop.orders") == [(3,)]
