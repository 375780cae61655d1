"""Type fidelity of every SQL source with a real server or file here: the same row of typed
values (and a row of NULLs) read from each, staged, and loaded through the mapping.

What must survive: integers past 2**53, exact decimals, floats, booleans, dates, timestamps with
and without a time zone (converted to UTC), text with non-ASCII characters, empty text as
empty text (not NULL), JSON, bytes, and NULLs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.contract import LoadRequest
from ingestd.dataplane.sql import extract
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.sources import ReadOptions
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.sql_runs import (
    DAY,
    FAKESNOW_WARNINGS,
    MARIADB,
    duckdb_file,
    fakesnow_server,
    mariadb,
    snowflake_run,
)

TABLE = TableSpec(
    "src",
    "typed",
    (
        Column("i", ColumnType.INT64),
        Column("big", ColumnType.INT64),
        Column("amount", ColumnType.STRING),
        Column("ratio", ColumnType.FLOAT64),
        Column("flag", ColumnType.BOOL),
        Column("dt", ColumnType.DATE),
        Column("ts", ColumnType.TIMESTAMP),
        Column("ts_tz", ColumnType.TIMESTAMP),
        Column("label", ColumnType.STRING),
        Column("blank", ColumnType.STRING),
        Column("doc", ColumnType.JSON),
    ),
    project="acme",
)
QUERY = "SELECT i, big, amount, ratio, flag, dt, ts, ts_tz, label, blank, doc, raw FROM typed"
EXPECTED = (
    1,
    9_007_199_254_740_993,
    "12345.67",
    0.1,
    True,
    date(2024, 3, 1),
    datetime(2024, 3, 1, 10, 0, 0, 123456),
    datetime(2024, 3, 1, 8, 0, 0, 500000),  # 10:00:00.5+02:00 in UTC
    "héllo ✓",
    "",
    {"a": [1, 2], "b": None},
)
NULLS = (None,) * len(EXPECTED)
SNOWFLAKE_QUERY = (
    "SELECT "
    + ", ".join(
        f'{c} AS "{c}"' for c in QUERY.removeprefix("SELECT ").split(" FROM")[0].split(", ")
    )
    + " FROM typed"
)


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Services]:
    services = make_services(tmp_path / "data", fetch_allowed_networks="127.0.0.0/8,::1/128")
    yield services
    services.close()


def _postgres(postgres_url: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import psycopg

    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS typed")
        conn.execute(
            "CREATE TABLE typed (i int, big bigint, amount numeric(12, 2), ratio float8, "
            "flag boolean, dt date, ts timestamp, ts_tz timestamptz, label text, blank text, "
            "doc jsonb, raw bytea)"
        )
        conn.execute(
            "INSERT INTO typed VALUES (1, 9007199254740993, 12345.67, 0.1, true, '2024-03-01', "
            "'2024-03-01 10:00:00.123456', '2024-03-01 10:00:00.5+02:00', 'héllo ✓', '', "
            """'{"a": [1, 2], "b": null}', '\\x00ff'), """
            "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
        )
    dbname = url.rsplit("/", 1)[1]
    return {"host": "127.0.0.1", "port": 5432, "dbname": dbname, "user": "postgres"}, {}


def _mysql(postgres_url: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    mariadb(
        [
            "DROP TABLE IF EXISTS typed",
            "CREATE TABLE typed (i int, big bigint, amount decimal(12, 2), ratio double, "
            "flag boolean, dt date, ts datetime(6), ts_tz timestamp(6) NULL, label text, "
            "blank varchar(10), doc json, raw blob) CHARACTER SET utf8mb4",
            "SET time_zone = '+02:00'",
            "INSERT INTO typed VALUES (1, 9007199254740993, 12345.67, 0.1, true, '2024-03-01', "
            "'2024-03-01 10:00:00.123456', '2024-03-01 10:00:00.5', 'héllo ✓', '', "
            """'{"a": [1, 2], "b": null}', x'00ff'), """
            "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        ]
    )
    return dict(MARIADB), {}


def _duckdb(postgres_url: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    path = duckdb_file(
        tmp_path / "data" / "files" / "acme" / "typed.duckdb",
        [
            "CREATE TABLE typed (i INTEGER, big BIGINT, amount DECIMAL(12, 2), ratio DOUBLE, "
            "flag BOOLEAN, dt DATE, ts TIMESTAMP, ts_tz TIMESTAMPTZ, label VARCHAR, "
            "blank VARCHAR, doc JSON, raw BLOB)",
            "SET TimeZone = 'UTC'",
            "INSERT INTO typed VALUES (1, 9007199254740993, 12345.67, 0.1, true, '2024-03-01', "
            "'2024-03-01 10:00:00.123456', '2024-03-01 10:00:00.5+02:00', 'héllo ✓', '', "
            """'{"a": [1, 2], "b": null}', '\\x00\\xff'), """
            "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        ],
    )
    return {"path": str(path)}, {}


def _sqlite(postgres_url: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    path = tmp_path / "data" / "files" / "acme" / "typed.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE typed (i INTEGER, big INTEGER, amount TEXT, ratio REAL, flag INTEGER, "
            "dt TEXT, ts TEXT, ts_tz TEXT, label TEXT, blank TEXT, doc TEXT, raw BLOB)"
        )
        con.execute(
            "INSERT INTO typed VALUES (1, 9007199254740993, '12345.67', 0.1, 1, '2024-03-01', "
            "'2024-03-01 10:00:00.123456', '2024-03-01T10:00:00.5+02:00', 'héllo ✓', '', "
            """'{"a": [1, 2], "b": null}', x'00ff')"""
        )
        con.execute("INSERT INTO typed VALUES (" + ", ".join(["NULL"] * 12) + ")")
    con.close()
    return {"path": str(path)}, {}


SOURCES = {"postgres": _postgres, "mysql": _mysql, "duckdb": _duckdb, "sqlite": _sqlite}
STAGED_TYPES: dict[str, dict[str, str]] = {
    # numeric keeps its exact text in PostgreSQL (it may exceed 38 digits or be NaN)
    "postgres": {"big": "BIGINT", "amount": "VARCHAR", "ts_tz": "TIMESTAMP WITH TIME ZONE"},
    "mysql": {"big": "BIGINT", "amount": "DECIMAL(12,2)", "ts_tz": "VARCHAR"},
    "duckdb": {"big": "BIGINT", "amount": "DECIMAL(12,2)", "ts_tz": "TIMESTAMP WITH TIME ZONE"},
    "sqlite": {"big": "VARCHAR", "amount": "VARCHAR", "ts_tz": "VARCHAR"},
    "snowflake": {"big": "BIGINT", "amount": "DECIMAL(12,2)", "ts_tz": "TIMESTAMP WITH TIME ZONE"},
}
RAW_BYTES = {
    "postgres": b"\x00\xff",
    "mysql": b"\x00\xff",
    "duckdb": b"\x00\xff",
    "snowflake": b"\x00\xff",
    "sqlite": "\\x00ff",
}


def _load(
    svc: Services,
    kind: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    tmp_path: Path,
    query: str = QUERY,
) -> tuple[list[tuple[Any, ...]], dict[str, str], list[Any]]:
    """Extract, stage and load as a query source's unit does; loaded rows, staged types, and
    the staged ``raw`` column."""
    staged = extract(
        kind,
        kind,
        config,
        secrets,
        query,
        tmp_path / "staged",
        svc.file_access.for_project(svc.access.ensure_project("acme")),
        egress=EgressPolicy(svc.settings.fetch_allowed_networks),
    )
    with duckdb.connect() as con:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{staged.path}')").fetchall()
        raw = [
            r[0] for r in con.execute(f"SELECT raw FROM read_parquet('{staged.path}')").fetchall()
        ]
    project_id = svc.access.ensure_project("acme")
    svc.catalog.create_table(project_id, TABLE)
    request = LoadRequest(
        "typed:1",
        "u1",
        "r1",
        TABLE,
        identity_mapping(TABLE),
        (staged.path,),
        (staged.name,),
        ReadOptions(format=staged.format),
        day=DAY,
    )
    result = svc.dataplane.load(request)
    assert (result.counts.read, result.counts.inserted, result.counts.errors) == (2, 2, 0)
    columns = ", ".join(c.name for c in TABLE.columns)
    rows = svc.warehouse.query(f"SELECT {columns} FROM acme__src.typed ORDER BY i NULLS LAST")
    return rows, {str(r[0]): str(r[1]) for r in described}, raw


def _check(kind: str, rows: list[tuple[Any, ...]], types: dict[str, str], raw: list[Any]) -> None:
    first = list(rows[0])
    first[-1] = json.loads(first[-1])
    assert tuple(first) == EXPECTED
    assert {k: types[k] for k in STAGED_TYPES[kind]} == STAGED_TYPES[kind]
    assert raw[0] == RAW_BYTES[kind] and raw[1] is None


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_every_type_survives_the_source(
    svc: Services, tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    postgres_url = request.getfixturevalue("postgres_url") if kind == "postgres" else ""
    config, secrets = SOURCES[kind](postgres_url, tmp_path)
    rows, types, raw = _load(svc, kind, config, secrets, tmp_path)
    _check(kind, rows, types, raw)
    assert rows[1] == NULLS


@FAKESNOW_WARNINGS
def test_every_type_survives_snowflake(svc: Services, tmp_path: Path) -> None:
    with fakesnow_server() as (settings, secrets):
        snowflake_run(
            settings,
            secrets,
            [
                "CREATE OR REPLACE TABLE typed (i INT, big BIGINT, amount NUMBER(12, 2), "
                "ratio FLOAT, flag BOOLEAN, dt DATE, ts TIMESTAMP_NTZ, ts_tz TIMESTAMP_TZ, "
                "label VARCHAR, blank VARCHAR, doc VARIANT, raw BINARY)",
                "INSERT INTO typed SELECT 1, 9007199254740993, 12345.67, 0.1, true, "
                "'2024-03-01', '2024-03-01 10:00:00.123456', '2024-03-01 10:00:00.5+02:00', "
                "'héllo ✓', '', "
                """PARSE_JSON('{"a": [1, 2], "b": null}'), TO_BINARY('00ff', 'HEX')""",
                "INSERT INTO typed (i) VALUES (NULL)",
            ],
        )
        # Snowflake names unquoted columns in upper case; the mapping names them in lower case.
        rows, types, raw = _load(svc, "snowflake", settings, secrets, tmp_path, SNOWFLAKE_QUERY)
    _check("snowflake", rows, types, raw)
    # fakesnow's server sends NULL timestamps as 1970-01-01 (it drops the validity of its
    # timestamp structs); every other column must be NULL.
    assert [v for i, v in enumerate(rows[1]) if i not in (6, 7)] == [None] * 9
