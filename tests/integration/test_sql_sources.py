"""Query sources against real databases: DuckDB and SQLite files, the local PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.states import UnitState
from ingestd.errors import FailureClass
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.sql_runs import run_query_source

MAPPING = mapping_from_column_mapping(
    "Events", {"unit_id": "uid", "event_name": "name", "timestamp": "ts", "ids": {"userID": "uid"}}
)
QUERY = "SELECT uid, name, ts FROM events WHERE ds = '{ds}'"
ROWS = [
    ("u1", "view", 1_709_251_200, "2024-03-01"),
    ("u2", "buy", 1_709_251_300, "2024-03-01"),
    ("u3", "view", 1_709_337_600, "2024-03-02"),
]


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    services = make_services(
        tmp_path / "data",
        retry_base_seconds=0.01,
        retry_max_attempts=2,
        fetch_allowed_networks="127.0.0.0/8,::1/128",
    )
    yield services
    services.close()


def run_source(
    svc: Services,
    kind: str,
    config: dict[str, Any],
    query: str = QUERY,
    secrets: dict[str, Any] | None = None,
) -> Any:
    return run_query_source(
        svc, kind, config, query, DATASET_TABLES["events"], mapping=MAPPING, secrets=secrets
    )


def test_a_duckdb_query_source_loads_the_day(svc: Services) -> None:
    path = svc.settings.data_dir / "files" / "acme" / "source.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE events (uid VARCHAR, name VARCHAR, ts BIGINT, ds DATE)")
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", ROWS)
    unit = run_source(svc, "duckdb", {"path": str(path)})
    assert unit.state is UnitState.SUCCEEDED, unit.error_message
    assert (unit.counts.read, unit.counts.inserted) == (2, 2)
    assert svc.warehouse.query("SELECT count(*) FROM acme__statsig.events") == [(2,)]


def test_a_sqlite_query_source_loads_the_day(svc: Services) -> None:
    path = svc.settings.data_dir / "files" / "acme" / "source.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE events (uid TEXT, name TEXT, ts INTEGER, ds TEXT)")
        con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", ROWS)
    unit = run_source(svc, "sqlite", {"path": str(path)})
    assert unit.state is UnitState.SUCCEEDED, unit.error_message
    assert unit.counts.inserted == 2


@pytest.fixture
def pg_source(postgres_url: str) -> dict[str, Any]:
    import psycopg

    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events")
        conn.execute("CREATE TABLE events (uid text, name text, ts bigint, ds date)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO events VALUES (%s, %s, %s, %s)", ROWS)
    dbname = url.rsplit("/", 1)[1]
    return {"host": "127.0.0.1", "port": 5432, "dbname": dbname, "user": "postgres"}


def test_a_postgres_query_source_loads_the_day(svc: Services, pg_source: dict[str, Any]) -> None:
    unit = run_source(svc, "postgres", pg_source)
    assert unit.state is UnitState.SUCCEEDED, unit.error_message
    assert (unit.counts.read, unit.counts.inserted) == (2, 2)
    assert svc.warehouse.query(
        "SELECT unit_id, event_name, timestamp FROM acme__statsig.events ORDER BY 1"
    ) == [("u1", "view", 1_709_251_200), ("u2", "buy", 1_709_251_300)]


def test_redshift_speaks_the_postgres_protocol(svc: Services, pg_source: dict[str, Any]) -> None:
    unit = run_source(svc, "redshift", pg_source)
    assert unit.state is UnitState.SUCCEEDED, unit.error_message


@pytest.mark.parametrize(
    ("case", "code", "failure", "attempts"),
    [
        ("unknown role", "AUTHENTICATION_ERROR", FailureClass.PERMANENT, 1),
        ("closed port", "CONNECTION_ERROR", FailureClass.EXHAUSTED, 2),
        ("bad sql", "QUERY_ERROR", FailureClass.PERMANENT, 1),
        ("bad template", "QUERY_CONSTRUCTION_ERROR", FailureClass.PERMANENT, 1),
    ],
)
def test_source_failures_are_classified(
    svc: Services,
    pg_source: dict[str, Any],
    case: str,
    code: str,
    failure: FailureClass,
    attempts: int,
) -> None:
    config, query = dict(pg_source), QUERY
    if case == "unknown role":
        config["user"] = "no_such_role"
    elif case == "closed port":
        config["port"] = 1
    elif case == "bad sql":
        query = "SELECT nope FROM events WHERE ds = '{ds}'"
    else:
        query = "SELECT * FROM events WHERE ds = '{day}'"
    unit = run_source(svc, "postgres", config, query, secrets={"password": "hunter2"})
    assert unit.state is UnitState.FAILED
    assert (unit.error_code, unit.failure_status, unit.attempt) == (code, failure, attempts)
    assert "hunter2" not in (unit.error_message or "")
