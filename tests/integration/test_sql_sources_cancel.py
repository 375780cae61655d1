"""Canceling a query source mid-query: the driver stops the query on the server and the unit
ends CANCELED long before the query would have finished (each query here runs 30 s or more)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.sql import extract
from ingestd.domain.connections import connection_body
from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.states import RunState, UnitState
from ingestd.errors import Canceled
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.sql_runs import DAY, MARIADB, canceled_after, duckdb_file, mariadb

LOCAL = EgressPolicy((ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")))
"""The local test servers are on loopback, which the default egress policy refuses."""

FINISHES_WELL_BEFORE = 20.0
"""Seconds: every slow query below runs at least 30 s when nobody cancels it."""


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Any], str]:
    url: str = request.getfixturevalue("postgres_url")
    config = {
        "host": "127.0.0.1",
        "port": 5432,
        "dbname": url.rsplit("/", 1)[1],
        "user": "postgres",
    }
    return config, "SELECT pg_sleep(30) AS slept"


def _mysql(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Any], str]:
    mariadb(["SELECT 1"])
    return dict(MARIADB), "SELECT SLEEP(30) AS slept"


def _duckdb(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Any], str]:
    path = duckdb_file(tmp_path / "files" / "slow.duckdb", ["CREATE TABLE t AS SELECT 1 AS x"])
    # 10^11 row pairs: minutes of work on two cores.
    return {"path": str(path)}, "SELECT count(*) AS n FROM range(1000000) a, range(100000) b"


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Any], str]:
    import sqlite3

    path = tmp_path / "files" / "slow.sqlite"
    path.parent.mkdir(parents=True)
    sqlite3.connect(path).close()
    return {"path": str(path)}, (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) "
        "SELECT max(x) AS n FROM c"
    )


SLOW: dict[str, Callable[[pytest.FixtureRequest, Path], tuple[dict[str, Any], str]]] = {
    "postgres": _postgres,
    "mysql": _mysql,
    "duckdb": _duckdb,
    "sqlite": _sqlite,
}


@pytest.mark.parametrize("kind", sorted(SLOW))
def test_a_cancel_stops_the_query_mid_way(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    config, query = SLOW[kind](request, tmp_path)
    with canceled_after(0.5) as (token, elapsed), pytest.raises(Canceled) as raised:
        extract(
            kind,
            kind,
            config,
            {},
            query,
            tmp_path / "staged",
            ProjectFiles("test", (tmp_path,)),
            token,
            LOCAL,
        )
    assert elapsed() < FINISHES_WELL_BEFORE
    assert raised.value.code == "CANCELED"
    assert f"connection {kind!r}" in raised.value.message


def test_a_canceled_token_runs_no_query(tmp_path: Path) -> None:
    config, query = _sqlite(pytest.FixtureRequest, tmp_path)  # type: ignore[arg-type]
    with canceled_after(0) as (token, _):
        time.sleep(0.05)
        with pytest.raises(Canceled):
            extract(
                "sqlite",
                "s",
                config,
                {},
                query,
                tmp_path / "staged",
                ProjectFiles("test", (tmp_path,)),
                token,
            )


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    services = make_services(
        tmp_path / "data", lease_seconds=2, fetch_allowed_networks="127.0.0.0/8,::1/128"
    )
    yield services
    services.close()


def test_canceling_a_unit_stops_its_running_query(svc: Services, postgres_url: str) -> None:
    project_id = svc.access.ensure_project("acme")
    svc.catalog.create_table(project_id, DATASET_TABLES["events"], merge=True)
    dbname = postgres_url.rsplit("/", 1)[1]
    config = {"host": "127.0.0.1", "port": 5432, "dbname": dbname, "user": "postgres"}
    svc.catalog.create_connection(project_id, "pg", connection_body("postgres", config))
    svc.catalog.create_source(
        project_id,
        name="slow",
        table="statsig.events",
        connection="pg",
        query="SELECT 'u1' AS uid, 'view' AS name, 1709251200 AS ts FROM pg_sleep(60) "
        "WHERE '{ds}' <> ''",
        mapping=mapping_from_column_mapping(
            "Events", {"unit_id": "uid", "event_name": "name", "timestamp": "ts"}
        ),
    )
    run = svc.runs.start_source_run(project_id, ["slow"], [DAY], trigger="manual")
    pool = svc.pool(workers=1)
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while svc.runs.get_run(project_id, run.id).units[0].state is not UnitState.DOWNLOADING:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)  # the query is running on the server
        svc.runs.cancel_unit(project_id, run.units[0].id)
        while svc.runs.get_run(project_id, run.id).state is not RunState.CANCELED:
            assert time.monotonic() < deadline, svc.runs.get_run(project_id, run.id)
            time.sleep(0.05)
    finally:
        pool.stop()
    unit = svc.runs.get_run(project_id, run.id).units[0]
    assert (unit.state, unit.counts.read, unit.counts.inserted) == (UnitState.CANCELED, 0, 0)
