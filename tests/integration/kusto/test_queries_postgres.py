"""The Kusto query subset on the PostgreSQL destination: the same queries and answers as on
DuckDB (tests/api/kusto/test_kusto_queries.py), so the translated SQL is the SQL both share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from tests.api.kusto.conftest import Kusto
from tests.api.kusto.test_kusto_queries import CASES, ROWS
from tests.conftest import make_services
from tests.unit.dataplane.harness import empty_postgres

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_loaded(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Kusto]:
    empty_postgres(postgres_url)
    root: Path = tmp_path_factory.mktemp("pg")
    services = make_services(
        root / "data",
        destination_url=postgres_url,
        fetch_allowed_networks="127.0.0.1/32,::1/128",  # the local test server
        kusto_query_max_rows=3,
    )
    key = services.access.create_key("acme", KeyKind.CONSOLE)
    files = services.settings.data_dir / "files" / "acme"
    files.mkdir(parents=True, exist_ok=True)
    with TestClient(create_app(services, background=False)) as client:
        kusto = Kusto(client, services, key, files)
        kusto.rows(
            ".create table T (name:string, city:string, n:long, x:real, at:datetime, ok:bool)"
        )
        kusto.queue([kusto.file_url("people.csv", ROWS)], {"format": "csv"})
        kusto.drain()
        yield kusto
    services.close()


@pytest.mark.parametrize(("csl", "columns", "rows"), CASES)
def test_the_query_subset_on_postgresql(
    pg_loaded: Kusto, csl: str, columns: list[tuple[str, str]] | None, rows: list[list[Any]]
) -> None:
    response = pg_loaded.client.post(
        "/v1/rest/query", json={"db": "db", "csl": csl}, headers=pg_loaded.headers()
    )
    assert response.status_code == 200, response.text
    table = response.json()["Tables"][0]
    if columns is not None:
        assert [(c["ColumnName"], c["ColumnType"]) for c in table["Columns"]] == columns
    # The bound here is 3 rows: a longer answer is its first 3 rows, flagged.
    assert table["Rows"] == rows[:3]
    assert (response.json()["Tables"][1]["Rows"][0][1] == 3) is (len(rows) > 3)
