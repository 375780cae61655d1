"""Previews of query sources: a row limit reaches the reader (SQLite stops fetching, DuckDB
gets a LIMIT in its plan), the sandbox refuses what it refuses in a load, and a preview creates
no run, unit or destination connection."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingestd.control.services import Services
from ingestd.domain.connections import connection_body
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import PreviewFailed
from tests.conftest import make_services

DAY = date(2024, 3, 1)
NUMBERS = TableSpec("db", "numbers", (Column("i", ColumnType.INT64, nullable=False),))
FAILS_PAST_100K = {
    # Computing row 100001 fails: a preview that reads the whole result fails too.
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 1000000) "
    "SELECT CASE WHEN i > 100000 THEN abs(-9223372036854775807 - 1) ELSE i END AS i FROM n",
    "duckdb": "SELECT CASE WHEN i > 100000 THEN error('read too far') ELSE i END AS i "
    "FROM range(1, 1000001) t(i)",
}


@pytest.fixture
def svc(tmp_path: Path) -> Services:
    services = make_services(tmp_path / "data")
    yield services  # type: ignore[misc]
    services.close()


def _source(svc: Services, kind: str, query: str) -> int:
    root = svc.settings.data_dir / "files" / "acme"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"source.{kind}"
    if kind == "sqlite":
        sqlite3.connect(path).close()
    else:
        duckdb.connect(str(path)).close()
    project_id = svc.access.ensure_project("acme")
    svc.catalog.create_table(project_id, NUMBERS)
    svc.catalog.create_connection(
        project_id, kind, connection_body(kind, {"path": str(path)}, None)
    )
    svc.catalog.create_source(
        project_id,
        name="src",
        table=NUMBERS.qualified_name,
        connection=kind,
        query=query,
        mapping=identity_mapping(NUMBERS),
    )
    return project_id


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_a_query_source_preview_reads_only_its_limit(svc: Services, kind: str) -> None:
    project_id = _source(svc, kind, FAILS_PAST_100K[kind])
    preview = svc.previews.preview(project_id, "src", DAY, limit=5)
    assert preview.rows == ((1,), (2,), (3,), (4,), (5,))
    assert preview.truncated and preview.errors == ()
    assert preview.files == (f"{kind}: query result",)
    assert svc.runs.list_runs(project_id) == ([], 0)
    assert "warehouse" not in svc.__dict__, "a preview opened the destination"


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
def test_the_sandbox_refuses_in_a_preview_what_it_refuses_in_a_load(
    svc: Services, kind: str, tmp_path: Path
) -> None:
    project_id = _source(svc, kind, f"ATTACH '{tmp_path / 'x.db'}' AS x")
    with pytest.raises(PreviewFailed) as refused:
        svc.previews.preview(project_id, "src", DAY)
    assert "QUERY_ERROR" in refused.value.message
    assert not (tmp_path / "x.db").exists()


def test_a_query_with_fewer_rows_than_the_limit_is_not_truncated(svc: Services) -> None:
    project_id = _source(svc, "sqlite", "SELECT 1 AS i UNION ALL SELECT 2")
    preview = svc.previews.preview(project_id, "src", DAY, limit=2)
    assert preview.rows == ((1,), (2,)) and not preview.truncated


def test_a_query_source_preview_keeps_the_egress_rules_and_the_secrets(svc: Services) -> None:
    """Loopback is not an allowed network by default: refused before connecting, as in a load,
    and the connection's password is in no message."""
    project_id = svc.access.ensure_project("acme")
    svc.catalog.create_table(project_id, NUMBERS)
    config = {"host": "127.0.0.1", "port": 5432, "dbname": "test", "user": "postgres"}
    svc.catalog.create_connection(
        project_id, "pg", connection_body("postgres", config, {"password": "s3cret-pw-42"})
    )
    svc.catalog.create_source(
        project_id, name="src", table=NUMBERS.qualified_name, connection="pg", query="SELECT 1 AS i"
    )
    with pytest.raises(PreviewFailed) as refused:
        svc.previews.preview(project_id, "src", DAY)
    assert "FETCH_NOT_ALLOWED" in refused.value.message
    assert "s3cret-pw-42" not in str(refused.value)


@pytest.mark.postgres
def test_a_postgres_query_source_preview_stops_at_the_limit(
    tmp_path: Path, postgres_url: str
) -> None:
    svc = make_services(tmp_path / "pg", fetch_allowed_networks="127.0.0.0/8,::1/128")
    try:
        project_id = svc.access.ensure_project("acme")
        svc.catalog.create_table(project_id, NUMBERS)
        dbname = postgres_url.rsplit("/", 1)[1]
        config = {"host": "127.0.0.1", "port": 5432, "dbname": dbname, "user": "postgres"}
        svc.catalog.create_connection(project_id, "pg", connection_body("postgres", config, None))
        svc.catalog.create_source(
            project_id,
            name="src",
            table=NUMBERS.qualified_name,
            connection="pg",
            query="SELECT i FROM generate_series(1, 500000) AS t(i)",
        )
        preview = svc.previews.preview(project_id, "src", DAY, limit=3)
        assert preview.rows == ((1,), (2,), (3,)) and preview.truncated
    finally:
        svc.close()
