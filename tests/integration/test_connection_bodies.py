"""Typed connection bodies: refused bodies change nothing, and the fields users write are the
ones the readers use (``database`` reaches PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from ingestd.domain.states import UnitState
from ingestd.domain.tables import Column, TableSpec
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.sql_runs import run_query_source


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[Services, TestClient, dict[str, str]]]:
    services = make_services(tmp_path / "data")
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    with TestClient(create_app(services, background=False)) as client:
        yield services, client, {"STATSIG-API-KEY": key}
    services.close()


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("postgres", {}, ["host: is required", "database: is required", "user: is required"]),
        (
            "postgres",
            {"host": "db.example", "database": "d", "user": "u", "pasword": "x"},
            ["pasword: is not a field of this connection type"],
        ),
        ("databricks", {"host": "h.example", "path": "/p"}, ["token"]),
        ("databricks", {"token": "t", "host": "h", "path": "/p", "extra": 1}, ["extra"]),
        ("snowflake-v2", {"account": "a"}, ["user: is required"]),
        (
            "s3",
            {"endpoint_url": "http://ak:hunter2@minio.example:9000"},
            ["endpoint_url: must not carry a user or password"],
        ),
    ],
    ids=["empty", "misspelt", "databricks-no-token", "databricks-extra", "snowflake", "url-pw"],
)
def test_a_wrong_body_is_a_400_naming_the_field_and_stores_nothing(
    console: tuple[Services, TestClient, dict[str, str]],
    path: str,
    body: dict[str, object],
    named: list[str],
) -> None:
    services, client, headers = console
    response = client.post(f"/console/v1/ingestion/connection/{path}", json=body, headers=headers)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["status"] == 400
    for text in named:
        assert text in answer["message"], answer
    assert "hunter2" not in response.text
    assert services.catalog.list_connections(services.access.project_id("acme")) == []
    read = client.get(f"/console/v1/ingestion/connection/{path}", headers=headers)
    assert read.status_code == 404


def test_openapi_shows_every_connection_body(
    console: tuple[Services, TestClient, dict[str, str]],
) -> None:
    _, client, _ = console
    document = client.get("/openapi.json").json()
    post = document["paths"]["/console/v1/ingestion/connection/{connection_type}"]["post"]
    bodies = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    titles = {b["title"] for b in bodies}
    assert {"postgres connection", "snowflake-v2 connection", "athena connection"} <= titles
    postgres = next(b for b in bodies if b["title"] == "postgres connection")
    assert postgres["additionalProperties"] is False
    assert {"host", "database", "user"} <= set(postgres["required"])
    # A secret field is declared write-only (SecretStr): clients see it is never read back.
    assert {"format": "password", "type": "string", "writeOnly": True} in (
        postgres["properties"]["password"]["anyOf"]
    )
    databricks = document["paths"]["/console/v1/ingestion/connection/databricks"]["post"]
    assert "requestBody" in databricks


@pytest.mark.postgres
def test_database_reaches_the_postgres_reader(tmp_path: Path, postgres_url: str) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    svc = make_services(tmp_path / "data", fetch_allowed_networks="127.0.0.0/8,::1/128")
    try:
        table = TableSpec("probe", "dbs", (Column.from_dict({"name": "db", "type": "string"}),))
        config = {"host": "127.0.0.1", "port": 5432, "database": database, "user": "postgres"}
        unit = run_query_source(svc, "postgres", config, "SELECT current_database() AS db", table)
        assert unit.state is UnitState.SUCCEEDED, unit.error_message
        rows = svc.warehouse.query('SELECT db FROM "acme__probe"."dbs"')
        assert rows == [(database,)]
        assert database != "postgres"  # the server's default database would hide the bug
    finally:
        svc.close()
