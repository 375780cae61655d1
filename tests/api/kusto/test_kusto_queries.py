"""Kusto queries (issue #16 item 3): the KQL subset over POST /v1/rest/query and
/v2/rest/query, answered in the vendor's shapes with the table's Kusto types, bounded in rows,
refused precisely (OneApiError naming the operator and its position) for anything else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestd.api.app import create_app
from ingestd.control.access import KeyKind
from tests.api.kusto.conftest import Kusto
from tests.conftest import make_services

ROWS = (
    "ann,Paris,1,1.5,2024-01-01T10:15:00Z,true\n"
    "bob,paris,2,2.5,2024-01-01T10:45:00Z,false\n"
    "cid,Berlin,3,,2024-01-01T11:05:00Z,true\n"
    "dee,,4,4.0,2024-01-02T00:00:00Z,\n"
    "eve,New York City,5,5.5,2024-01-02T01:00:00Z,false\n"
)
H10 = "2024-01-01T10:00:00.0000000Z"
H11 = "2024-01-01T11:00:00.0000000Z"


@pytest.fixture
def loaded(kusto: Kusto) -> Kusto:
    kusto.rows(".create table T (name:string, city:string, n:long, x:real, at:datetime, ok:bool)")
    response = kusto.queue([kusto.file_url("people.csv", ROWS)], {"format": "csv"})
    assert response.status_code == 200, response.text
    kusto.drain()
    return kusto


def _query(kusto: Kusto, csl: str, *, key: str | None = None, v: int = 1) -> Any:
    return kusto.client.post(
        f"/v{v}/rest/query", json={"db": "db", "csl": csl}, headers=kusto.headers(key)
    )


def _result(kusto: Kusto, csl: str) -> tuple[list[tuple[str, str]], list[list[Any]]]:
    response = _query(kusto, csl)
    assert response.status_code == 200, response.text
    table = response.json()["Tables"][0]
    columns = [(c["ColumnName"], c["ColumnType"]) for c in table["Columns"]]
    return columns, table["Rows"]


CASES: list[tuple[str, list[tuple[str, str]] | None, list[list[Any]]]] = [
    ("T | count", [("Count", "long")], [[5]]),
    ("T | where n > 3 | count", [("Count", "long")], [[2]]),
    (
        "T | where n >= 2 and n < 4 or name == 'eve' | project name | order by name asc",
        [("name", "string")],
        [["bob"], ["cid"], ["eve"]],
    ),
    ("T | where n between (2 .. 3) | project name, n", None, [["bob", 2], ["cid", 3]]),
    ("T | where n !between (2 .. 4) | project n | sort by n", None, [[5], [1]]),
    (
        "T | where name in ('ann', 'eve') | project name | order by name",
        None,
        [["eve"], ["ann"]],
    ),
    ("T | where name !in ('ann', 'eve') | count", None, [[3]]),
    ("T | where city in~ ('PARIS') | count", None, [[2]]),
    ("T | where city =~ 'PARIS' | count", None, [[2]]),
    ("T | where city == 'Paris' | project name", None, [["ann"]]),
    ("T | where city has 'york' | project name", None, [["eve"]]),
    ("T | where city has 'yor' | count", None, [[0]]),
    ("T | where city contains 'YOR' | project name", None, [["eve"]]),
    ("T | where city contains_cs 'YOR' | count", None, [[0]]),
    (
        "T | where city !contains 'ar' | project name | order by name asc",
        None,
        [["cid"], ["eve"]],
    ),
    ("T | where isnull(x) | project name", None, [["cid"]]),
    ("T | where isempty(city) | project name", None, [["dee"]]),
    ("T | where isnotempty(city) | count", None, [[4]]),
    (
        "T | where isnotnull(ok) and not(ok) | project name | order by name asc",
        None,
        [["bob"], ["eve"]],
    ),
    (
        "T | where at >= datetime(2024-01-02) | project name, at | order by at asc",
        [("name", "string"), ("at", "datetime")],
        [["dee", "2024-01-02T00:00:00.0000000Z"], ["eve", "2024-01-02T01:00:00.0000000Z"]],
    ),
    (
        "T | extend twice = n * 2, half = n / 2 | where n == 3 | project name, twice, half",
        [("name", "string"), ("twice", "long"), ("half", "real")],
        [["cid", 6, 1.5]],
    ),
    (
        "T | extend n = n + 10 | where name == 'ann' | project n, upper = toupper(name)",
        [("n", "long"), ("upper", "string")],
        [[11, "ANN"]],
    ),
    (
        "T | summarize count(), dcount(city), sum(n), min(x), max(at), avg(n)",
        [
            ("count_", "long"),
            ("dcount_city", "long"),
            ("sum_n", "long"),
            ("min_x", "real"),
            ("max_at", "datetime"),
            ("avg_n", "real"),
        ],
        [[5, 4, 15, 1.5, "2024-01-02T01:00:00.0000000Z", 3.0]],
    ),
    (
        "T | where at < datetime(2024-01-02) | summarize people = count(), total = sum(n) "
        "by bin(at, 1h) | order by at asc",
        [("at", "datetime"), ("people", "long"), ("total", "long")],
        [[H10, 2, 3], [H11, 1, 3]],
    ),
    (
        "T | summarize count() by ok | order by ok asc nulls first",
        [("ok", "bool"), ("count_", "long")],
        [[None, 1], [False, 2], [True, 2]],
    ),
    ("T | summarize count() by bin(n, 2) | order by n asc", None, [[0, 1], [2, 2], [4, 2]]),
    ("T | top 2 by n | project name", None, [["eve"], ["dee"]]),
    ("T | top 2 by x asc | project name", None, [["cid"], ["ann"]]),
    ("T | order by n desc | take 2 | project n", None, [[5], [4]]),
    ("T | order by n asc | limit 3 | where n > 1 | project n", None, [[2], [3]]),
    ("T | take 0", None, []),
    ("T | project ['name'] | where ['name'] == 'ann'", None, [["ann"]]),
    ("T | summarize countif(n > 2)", [("countif_", "long")], [[3]]),
    ("T | where strlen(name) == 3 and name contains 'e' | count", None, [[2]]),
]
"""(query, result columns or None for any, result rows): shared with the PostgreSQL run."""


@pytest.mark.parametrize(("csl", "columns", "rows"), CASES)
def test_the_query_subset(
    loaded: Kusto, csl: str, columns: list[tuple[str, str]] | None, rows: list[list[Any]]
) -> None:
    got_columns, got_rows = _result(loaded, csl)
    if columns is not None:
        assert got_columns == columns
    assert got_rows == rows


def test_columns_come_back_as_the_tables_kusto_types(loaded: Kusto) -> None:
    response = _query(loaded, "T | take 1")
    table = response.json()["Tables"][0]
    assert table["Columns"] == [
        {"ColumnName": "name", "DataType": "String", "ColumnType": "string"},
        {"ColumnName": "city", "DataType": "String", "ColumnType": "string"},
        {"ColumnName": "n", "DataType": "Int64", "ColumnType": "long"},
        {"ColumnName": "x", "DataType": "Double", "ColumnType": "real"},
        {"ColumnName": "at", "DataType": "DateTime", "ColumnType": "datetime"},
        {"ColumnName": "ok", "DataType": "Boolean", "ColumnType": "bool"},
    ]
    # v1: result, status, table of contents (the SDK kinds the tables from the last one).
    names = [row[2] for row in response.json()["Tables"][2]["Rows"]]
    assert names == ["PrimaryResult", "QueryStatus"]


def test_v2_answers_frames(loaded: Kusto) -> None:
    response = _query(loaded, "T | where name == 'ann' | project name, n", v=2)
    assert response.status_code == 200, response.text
    frames = response.json()
    assert [f["FrameType"] for f in frames] == [
        "DataSetHeader",
        "DataTable",
        "DataTable",
        "DataSetCompletion",
    ]
    primary = frames[1]
    assert primary["TableKind"] == "PrimaryResult"
    assert primary["Columns"] == [
        {"ColumnName": "name", "ColumnType": "string"},
        {"ColumnName": "n", "ColumnType": "long"},
    ]
    assert primary["Rows"] == [["ann", 1]]
    assert frames[3] == {"FrameType": "DataSetCompletion", "HasErrors": False, "Cancelled": False}


@pytest.fixture
def bounded(tmp_path: Path) -> Iterator[Kusto]:
    """The app with a 3-row bound on query results."""
    services = make_services(tmp_path / "data", kusto_query_max_rows=3)
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


def test_rows_are_bounded_and_the_truncation_is_flagged(bounded: Kusto) -> None:
    loaded = bounded
    frames = _query(loaded, "T | order by n asc | project n", v=2).json()
    assert frames[1]["Rows"] == [[1], [2], [3]]
    completion = frames[2]["Rows"][0]
    assert completion[5] == 3 and "exceeded the limit of 3" in completion[11]
    assert frames[3]["HasErrors"] is True
    v1 = _query(loaded, "T | project n").json()
    assert len(v1["Tables"][0]["Rows"]) == 3
    assert v1["Tables"][1]["Rows"][0][1] == 3  # Severity: warning
    exact = _query(loaded, "T | take 3 | project n", v=2).json()
    assert frames[2]["Rows"][0][5] == 3 and exact[3]["HasErrors"] is False


@pytest.mark.parametrize(
    ("csl", "code", "where", "words"),
    [
        ("T | join (U) on a", "BadRequest_SyntaxError", "1:5", "'join' is not supported"),
        ("T\n| where n > 1\n| mv-expand n", "BadRequest_SyntaxError", "3:3", "'mv'"),
        ("T | where name startswith 'a'", "BadRequest_SyntaxError", "1:16", "'startswith'"),
        ("T | where nope == 1", "BadRequest_SemanticError", "1:11", "'nope'"),
        ("T | where name == 1", "BadRequest_SemanticError", "1:16", "cannot compare"),
        ("T | project n | where name == 'a'", "BadRequest_SemanticError", "1:23", "'name'"),
        ("T | extend y = sqrt(n)", "BadRequest_SyntaxError", "1:16", "sqrt() is not supported"),
        ("T | where n > 'a", "BadRequest_SyntaxError", "1:15", "not closed"),
        ("T | take many", "BadRequest_SyntaxError", "1:10", "whole number"),
        ("T | where (((n > 1)", "BadRequest_SyntaxError", "1:20", "')'"),
        ("T | summarize sum(name)", "BadRequest_SemanticError", "1:15", "needs numbers"),
    ],
)
def test_anything_else_is_a_one_api_error_with_its_position(
    loaded: Kusto, csl: str, code: str, where: str, words: str
) -> None:
    for version in (1, 2):
        response = _query(loaded, csl, v=version)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == code
        assert f"[line:position={where}]" in error["message"]
        assert words in error["message"]
        assert error["@permanent"] is True


def test_unknown_tables_and_databases_are_404(loaded: Kusto) -> None:
    response = _query(loaded, "Nope | count")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "BadRequest_TableNotExist"
    other_db = loaded.client.post(
        "/v2/rest/query", json={"db": "other", "csl": "T | count"}, headers=loaded.headers()
    )
    assert other_db.json()["error"]["code"] == "BadRequest_DatabaseNotExist"


def test_a_read_key_queries_and_sees_only_its_projects_tables(loaded: Kusto) -> None:
    access = loaded.services.access
    reader = access.create_key("acme", KeyKind.READ)
    assert _result_with(loaded, "T | count", reader) == [[5]]
    stranger = access.create_key("initech", KeyKind.READ)
    response = _query(loaded, "T | count", key=stranger)
    assert response.status_code == 404
    assert "acme" not in response.text and "ann" not in response.text
    assert _query(loaded, "T | count", key="not-a-key").status_code == 401


def test_a_same_named_table_of_another_project_is_its_own(loaded: Kusto) -> None:
    other = loaded.services.access.create_key("globex", KeyKind.CONSOLE)
    assert loaded.rows(".create table T (name:string)", key=other)
    assert _result_with(loaded, "T | count", other) == [[0]]


def test_a_table_created_but_never_loaded_answers_empty(kusto: Kusto) -> None:
    kusto.rows(".create table Fresh (a:string, b:long)")
    assert _result(kusto, "Fresh | count")[1] == [[0]]
    assert _result(kusto, "Fresh | take 5")[1] == []


def test_values_are_bound_never_spliced(loaded: Kusto) -> None:
    hostile = "x' OR 1=1; DROP TABLE db.T; --"
    assert _result(loaded, f'T | where name == "{hostile}" | count')[1] == [[0]]
    assert _result(loaded, f'T | where name has "{hostile}" | count')[1] == [[0]]
    assert _result(loaded, "T | count")[1] == [[5]]


def _result_with(kusto: Kusto, csl: str, key: str) -> list[list[Any]]:
    response = _query(kusto, csl, key=key)
    assert response.status_code == 200, response.text
    rows: list[list[Any]] = response.json()["Tables"][0]["Rows"]
    return rows


_QUERY_PIECES = st.sampled_from(
    [
        "T", " | ", "where ", "n ", "x ", "name ", "== ", "> ", "* ", "/ ", "% ",
        "9223372036854775807", "0 ", "1 ", "'a' ", "and ", "or ", "(", ")", "summarize ",
        "count() ", "sum(n) ", "by ",
        "bin(at, 1h) ", "take 2", "project ", "extend y = ", "top 1 by ", "order by ", "has ",
        "contains ", "in (1, 2) ", "between (1 .. 2) ", "isnull(", "datetime(2024-01-01) ",
        "at ", ", ", "-", "join ", "\n",
    ]
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_QUERY_PIECES, max_size=14).map("".join))
def test_no_query_is_ever_a_500(loaded: Kusto, csl: str) -> None:
    response = _query(loaded, csl, v=2)
    assert response.status_code in (200, 400, 404), (csl, response.text)
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["code"] and error["@permanent"] is True, (csl, error)
