"""Two projects with the same table, the same load keys and the same days, on both destinations:
each sees and touches only its own rows, ledger entries, quarantine rows and tags."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ingestd.dataplane.destinations.interface import table_sql
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.sources import LoadMode
from ingestd.domain.tables import Column, ColumnType, TableSpec

from .harness import Harness, csv_text

DAY = date(2024, 3, 1)


def _table(project: str) -> TableSpec:
    return TableSpec(
        "s",
        "t",
        (Column("id", ColumnType.STRING, nullable=False), Column("v", ColumnType.INT64)),
        primary_key=("id",),
        project=project,
    )


ALPHA, BETA = _table("alpha"), _table("beta")
MAPPING = identity_mapping(ALPHA)


def _rows(h: Harness, table: TableSpec) -> list[tuple[object, ...]]:
    return h.warehouse.query(f"SELECT id, v FROM {table_sql(table)} ORDER BY id")


def test_same_table_and_load_key_in_two_projects_stay_apart(harness: Harness) -> None:
    h = harness
    assert table_sql(ALPHA) == '"alpha__s"."t"' and table_sql(BETA) == '"beta__s"."t"'
    alpha_file = h.write("a.csv", csv_text(["id", "v"], [("k1", 1), ("a2", 2), ("bad", "x")]))
    beta_file = h.write("b.csv", csv_text(["id", "v"], [("k1", 10), ("bad", "y")]))
    # Upsert of the same key, under the same load key, in both projects.
    h.load(ALPHA, MAPPING, alpha_file, key="k", mode=LoadMode.UPSERT, day=DAY)
    h.load(BETA, MAPPING, beta_file, key="k", mode=LoadMode.UPSERT, day=DAY)
    assert _rows(h, ALPHA) == [("a2", 2), ("k1", 1)]
    assert _rows(h, BETA) == [("k1", 10)]
    alpha_entry = h.warehouse.ledger_entry("alpha", "k")
    beta_entry = h.warehouse.ledger_entry("beta", "k")
    assert alpha_entry is not None and beta_entry is not None
    assert (alpha_entry["inserted"], beta_entry["inserted"]) == (2, 1)
    assert h.warehouse.query("SELECT project, raw FROM _ingestd.quarantine ORDER BY project") == [
        ("alpha", '{"id":"bad","v":"x"}'),
        ("beta", '{"id":"bad","v":"y"}'),
    ]
    # Beta replaces the day: alpha's rows of that day stay.
    again = h.write("b2.csv", csv_text(["id", "v"], [("b9", 9)]))
    h.load(BETA, MAPPING, again, key="k2", mode=LoadMode.REPLACE_DAY, day=DAY)
    assert _rows(h, BETA) == [("b9", 9)]
    assert _rows(h, ALPHA) == [("a2", 2), ("k1", 1)]
    # Beta reruns load key k (append): alpha's entry and quarantine row of k stay.
    h.load(BETA, MAPPING, again, key="k", day=DAY)
    assert h.warehouse.ledger_entry("alpha", "k") == alpha_entry
    assert h.warehouse.query("SELECT project FROM _ingestd.quarantine") == [("alpha",)]


def test_ingest_by_tags_are_per_project(harness: Harness) -> None:
    h = harness
    path = h.write("a.csv", csv_text(["id", "v"], [("k1", 1)]))
    request = h.request(ALPHA, MAPPING, path, key="tagged")
    h.plane.load(replace(request, tags=("ingest-by:x",)))
    assert h.warehouse.tag_exists(ALPHA, "ingest-by:x")
    assert not h.warehouse.tag_exists(BETA, "ingest-by:x")
