"""MySQL/MariaDB query sources against the local MariaDB: a day loads, failures are classified
as a Statsig status would show them, and no secret reaches a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingestd.domain.datasets import DATASET_TABLES, mapping_from_column_mapping
from ingestd.domain.states import UnitState
from ingestd.errors import FailureClass
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.sql_runs import MARIADB, mariadb, run_query_source

MAPPING = mapping_from_column_mapping(
    "Events", {"unit_id": "uid", "event_name": "name", "timestamp": "ts", "ids": {"userID": "uid"}}
)
QUERY = "SELECT uid, name, ts FROM ingestd_events WHERE ds = '{ds}'"
PASSWORD = "hunter2-secret"
READER = {**MARIADB, "user": "ingestd_reader"}


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


@pytest.fixture
def events() -> None:
    mariadb(
        [
            "DROP TABLE IF EXISTS ingestd_events",
            "CREATE TABLE ingestd_events (uid varchar(20), name varchar(20), ts bigint, ds date)",
            "INSERT INTO ingestd_events VALUES ('u1', 'view', 1709251200, '2024-03-01'), "
            "('u2', 'buy', 1709251300, '2024-03-01'), ('u3', 'view', 1709337600, '2024-03-02')",
            f"CREATE OR REPLACE USER 'ingestd_reader'@'%' IDENTIFIED BY '{PASSWORD}'",
            "GRANT SELECT ON test.* TO 'ingestd_reader'@'%'",
        ]
    )


def run(svc: Services, config: dict[str, Any], query: str = QUERY, **kwargs: Any) -> Any:
    return run_query_source(
        svc, "mysql", config, query, DATASET_TABLES["events"], mapping=MAPPING, **kwargs
    )


@pytest.mark.usefixtures("events")
def test_a_mysql_query_source_loads_the_day(svc: Services) -> None:
    unit = run(svc, dict(READER), secrets={"password": PASSWORD})
    assert unit.state is UnitState.SUCCEEDED, unit.error_message
    assert (unit.counts.read, unit.counts.inserted) == (2, 2)
    assert svc.warehouse.query(
        "SELECT unit_id, event_name, timestamp FROM acme__statsig.events ORDER BY 1"
    ) == [("u1", "view", 1_709_251_200), ("u2", "buy", 1_709_251_300)]


@pytest.mark.usefixtures("events")
@pytest.mark.parametrize(
    ("case", "code", "failure", "attempts"),
    [
        ("wrong password", "AUTHENTICATION_ERROR", FailureClass.PERMANENT, 1),
        ("unknown user", "AUTHENTICATION_ERROR", FailureClass.PERMANENT, 1),
        ("closed port", "CONNECTION_ERROR", FailureClass.EXHAUSTED, 2),
        ("bad sql", "QUERY_ERROR", FailureClass.PERMANENT, 1),
        ("missing table", "QUERY_ERROR", FailureClass.PERMANENT, 1),
        ("bad template", "QUERY_CONSTRUCTION_ERROR", FailureClass.PERMANENT, 1),
    ],
)
def test_mysql_failures_are_classified(
    svc: Services, case: str, code: str, failure: FailureClass, attempts: int
) -> None:
    config, query, secret = dict(READER), QUERY, PASSWORD
    if case == "wrong password":
        secret = "wrong-secret-pw"
    elif case == "unknown user":
        config["user"] = "no_such_user"
    elif case == "closed port":
        config["port"] = 1
    elif case == "bad sql":
        query = "SELEC uid FROM ingestd_events WHERE ds = '{ds}'"
    elif case == "missing table":
        query = "SELECT uid, name, ts FROM no_such_table WHERE ds = '{ds}'"
    else:
        query = "SELECT uid FROM ingestd_events WHERE ds = '{day}'"
    unit = run(svc, config, query, secrets={"password": secret})
    assert unit.state is UnitState.FAILED
    assert (unit.error_code, unit.failure_status, unit.attempt) == (code, failure, attempts)
    message = unit.error_message or ""
    assert secret not in message
    if code != "QUERY_CONSTRUCTION_ERROR":
        assert "'mysql'" in message  # names the connection
    if code == "QUERY_ERROR":
        assert query.split(" FROM")[0].replace("{ds}", "2024-03-01") in message  # and the SQL
