"""``Catalog`` and ``Mappings`` deciding over the SQLite catalog repository: what may be
created or changed, all or nothing, and nothing of one project seen from another."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, text

from ingestd.control.access import Access
from ingestd.control.catalog import Catalog
from ingestd.control.kusto.mappings import Mappings
from ingestd.domain.connections import connection_body
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.mapping import FieldMapping, Mapping, RefKind, SourceRef
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import Conflict, InvalidInput, MappingInvalid, NotFound
from ingestd.store.database import Store

ORDERS = TableSpec(
    "shop",
    "orders",
    (Column("id", ColumnType.INT64), Column("amount", ColumnType.FLOAT64)),
    primary_key=("id",),
)


@pytest.fixture
def projects(store: Store) -> tuple[int, int]:
    access = Access(store)
    return access.ensure_project("acme"), access.ensure_project("rival")


@pytest.fixture
def catalog(store: Store, tmp_path: Path) -> Catalog:
    return Catalog(store, lambda _project: ProjectFiles(project="acme", roots=(tmp_path,)))


def test_tables_are_placed_in_their_project_and_merged_column_by_column(
    catalog: Catalog, projects: tuple[int, int]
) -> None:
    acme, rival = projects
    created = catalog.create_table(acme, ORDERS)
    assert created.project == "acme" and catalog.get_table(acme, "shop.orders") == created
    assert catalog.find_table(rival, "shop.orders") is None
    with pytest.raises(NotFound, match=r"table shop\.orders does not exist"):
        catalog.get_table(rival, "shop.orders")

    with pytest.raises(Conflict, match="exists already"):
        catalog.create_table(acme, ORDERS)
    wider = TableSpec("shop", "orders", (Column("note", ColumnType.STRING), *ORDERS.columns))
    merged = catalog.create_table(acme, wider, merge=True)
    assert [c.name for c in merged.columns] == ["id", "amount", "note"]
    assert merged.primary_key == ("id",) and catalog.get_table(acme, "shop.orders") == merged

    retyped = TableSpec("shop", "orders", (Column("amount", ColumnType.STRING),))
    with pytest.raises(Conflict, match=r"column amount of shop\.orders is float64, not string"):
        catalog.create_table(acme, retyped, merge=True)
    assert catalog.get_table(acme, "shop.orders") == merged
    assert [t.qualified_name for t in catalog.list_tables(acme)] == ["shop.orders"]
    assert catalog.list_tables(rival) == []


def test_a_source_is_checked_against_its_table_and_a_rejected_change_changes_nothing(
    catalog: Catalog, projects: tuple[int, int], tmp_path: Path
) -> None:
    acme, rival = projects
    catalog.create_table(acme, ORDERS)
    catalog.create_connection(acme, "in", connection_body("file", {"root": str(tmp_path)}))
    source = catalog.create_source(
        acme, name="orders", table="shop.orders", connection="in", path_template="{ds}.csv"
    )
    assert (source.table, source.connection, source.enabled) == ("shop.orders", "in", True)
    assert catalog.get_source(acme, "orders") == source
    with pytest.raises(Conflict, match="source 'orders' exists already"):
        catalog.create_source(acme, name="orders", table="shop.orders", path_template="/x.csv")
    with pytest.raises(NotFound):
        catalog.get_source(rival, "orders")

    bad = Mapping((FieldMapping("nope", SourceRef(RefKind.COLUMN, "id")),))
    with pytest.raises(MappingInvalid):
        catalog.update_source(acme, "orders", mapping=bad, enabled=False)
    assert catalog.get_source(acme, "orders") == source
    with pytest.raises(InvalidInput, match="cannot change"):
        catalog.update_source(acme, "orders", table="shop.other")

    changed = catalog.update_source(acme, "orders", enabled=False, schedule_hour_pst=4)
    assert (changed.enabled, changed.schedule_hour_pst, changed.id) == (False, 4, source.id)
    assert catalog.list_sources(acme) == [changed]

    with pytest.raises(Conflict, match="connection 'in' is used by source 'orders'"):
        catalog.delete_connection(acme, "in")
    assert catalog.delete_source(acme, "orders") == changed
    catalog.delete_connection(acme, "in")
    assert catalog.list_connections(acme) == [] and catalog.list_sources(acme) == []


def test_many_sources_are_read_together_in_the_order_asked_and_only_the_projects_own(
    catalog: Catalog, projects: tuple[int, int], store: Store, tmp_path: Path
) -> None:
    acme, rival = projects
    catalog.create_table(acme, ORDERS)
    catalog.create_table(rival, ORDERS)
    catalog.create_connection(acme, "in", connection_body("file", {"root": str(tmp_path)}))
    # More names than one IN list binds (store.catalog reads them 500 at a time).
    names = [f"s{n:04d}" for n in range(1203)]
    for name in names:
        catalog.create_source(
            acme, name=name, table="shop.orders", connection="in", path_template="{ds}.csv"
        )
    catalog.create_source(rival, name="theirs", table="shop.orders", path_template="/x.csv")
    asked = [*reversed(names[:700]), *names[700:]]
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        statements.append(sql)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        found = catalog.get_sources(acme, asked)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)

    assert [s.name for s in found] == asked
    assert found[0] == catalog.get_source(acme, asked[0])
    # Three reads of sources, the table once and the connection once: not three per source.
    assert len(statements) <= 6, statements
    with pytest.raises(NotFound, match="source 'theirs' does not exist"):
        catalog.get_sources(acme, [names[0], "theirs"])


def test_connection_secrets_are_stored_sealed_and_never_shown(
    catalog: Catalog, projects: tuple[int, int], store: Store
) -> None:
    acme, rival = projects
    body = connection_body(
        "s3",
        {"region": "eu-west-1"},
        {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "very-secret-value"},
    )
    view = catalog.create_connection(acme, "lake", body)
    assert view.has_secrets and "very-secret-value" not in repr(view)
    assert catalog.connection_secrets(acme, "lake") == {
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": "very-secret-value",
    }
    with store.read() as session:
        stored = session.execute(text("SELECT config, sealed_secrets FROM connections")).one()
    assert "very-secret-value" not in f"{stored}"
    with pytest.raises(NotFound):
        catalog.connection_secrets(rival, "lake")
    with pytest.raises(Conflict):
        catalog.create_connection(acme, "lake", body)
    replaced = catalog.create_connection(
        acme, "lake", connection_body("s3", {"region": "us-east-1"}), replace=True
    )
    assert (replaced.id, replaced.has_secrets) == (view.id, False)
    assert catalog.connection_secrets(acme, "lake") == {}


def test_named_mappings_are_checked_kept_and_replaced_only_when_asked(
    store: Store, catalog: Catalog, projects: tuple[int, int]
) -> None:
    acme, rival = projects
    catalog.create_table(acme, ORDERS)
    mappings = Mappings(store)
    elements = [{"column": "id", "Properties": {"ordinal": "0"}}]
    first = mappings.create(acme, "shop.orders", "CSV", "m", elements)
    assert (first.kind, first.elements) == (
        "csv",
        [{"Column": "id", "Properties": {"Ordinal": "0"}}],
    )
    with pytest.raises(Conflict, match=r"csv mapping 'm' of shop\.orders exists already"):
        mappings.create(acme, "shop.orders", "csv", "m", elements)
    with pytest.raises(MappingInvalid):
        mappings.create(acme, "shop.orders", "csv", "bad", [{"Column": "nope", "Properties": {}}])
    again = [{"Column": "amount", "Properties": {"Ordinal": "1"}}]
    mappings.create(acme, "shop.orders", "csv", "m", again, replace=True)
    assert [m.elements for m in mappings.list(acme, "shop.orders")] == [again]
    assert [f.target for f in mappings.get(acme, "shop.orders", "m").mapping.fields] == ["amount"]
    with pytest.raises(NotFound, match=r"table shop\.orders does not exist"):
        mappings.list(rival, "shop.orders")
