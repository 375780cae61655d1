"""The upgrade from the layout before data per project, on data made by that version.

DuckDB: ``tests/fixtures/old_layout`` is a data directory written by ingestd at commit a0ac6a5
(see its README): projects alpha and beta each loaded ``s.t`` (upsert) and ``s.log`` (append,
one row quarantined each) into the shared ``"s"`` schema, and one row no ledger entry claims was
added. PostgreSQL: the same layout, made with that version's DDL, in a fresh database.
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestd.dataplane.destinations.duckdb.destination import DuckDBDestination
from ingestd.dataplane.destinations.interface import Destination
from ingestd.dataplane.destinations.postgres.destination import (
    PostgresDestination,
    psycopg_conninfo,
)
from ingestd.domain.run_owners import RunOwners
from tests.conftest import make_services

FIXTURE = Path(__file__).parent.parent / "fixtures" / "old_layout"
ALPHA_RUN = "bd5db689-822a-4cc4-8551-e70165daf5c5"
BETA_RUN = "49b1df0a-f116-4b40-b826-c598ffa4c194"


def _rows(destination: Destination, schema: str, table: str) -> list[tuple[Any, ...]]:
    return destination.query(f'SELECT id, v FROM "{schema}"."{table}" ORDER BY id')


def _schemas_with_tables(destination: Destination) -> list[tuple[Any, ...]]:
    return destination.query(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema NOT IN ('information_schema', 'pg_catalog', 'public') "
        "AND table_schema NOT LIKE 'layout%' ORDER BY 1, 2"
    )


def _check_upgraded(destination: Destination) -> None:
    """Every row of the fixture's scenario is in its project (beta's upsert of k1 had
    overwritten alpha's row in the old layout: that row is beta's)."""
    assert _rows(destination, "alpha__s", "t") == [("a2", 2)]
    assert _rows(destination, "beta__s", "t") == [("b2", 20), ("k1", 10)]
    assert _rows(destination, "alpha__s", "log") == [("al1", 1)]
    assert _rows(destination, "beta__s", "log") == [("bl1", 1), ("bl3", 3)]
    assert _rows(destination, "_ingestd_legacy", "s.t") == [("orphan", 99)]
    assert destination.query("SELECT project, load_key FROM _ingestd.ledger ORDER BY load_key") == [
        ("alpha", "source:1:2024-03-01"),
        ("alpha", "source:2:2024-03-01"),
        ("beta", "source:3:2024-03-01"),
        ("beta", "source:4:2024-03-01"),
    ]
    assert destination.query(
        "SELECT project, load_key, raw FROM _ingestd.quarantine ORDER BY id"
    ) == [
        ("alpha", "source:2:2024-03-01", '{"id":"al2","v":"notanumber"}'),
        ("beta", "source:4:2024-03-01", '{"id":"bl2","v":"bad"}'),
    ]
    entry = destination.ledger_entry("alpha", "source:1:2024-03-01")
    assert entry is not None and entry["inserted"] == 2
    assert destination.ledger_entry("beta", "source:1:2024-03-01") is None


def test_a_duckdb_data_dir_of_the_old_layout_is_upgraded_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("warehouse.duckdb", "metadata.sqlite"):
        with gzip.open(FIXTURE / f"{name}.gz") as src, (data / name).open("wb") as out:
            shutil.copyfileobj(src, out)
    caplog.set_level(logging.INFO, logger="ingestd")
    services = make_services(data)
    try:
        _check_upgraded(services.warehouse)
        assert "1 rows of s.t were loaded by no known project's run" in caplog.text
        # The projects' own views read the upgraded rows: alpha's quarantine is alpha's alone.
        alpha = services.access.project_id("alpha")
        rows, total = services.quarantine.list(alpha, ["s.log", "s.t"])
        assert (total, [r.raw for r in rows]) == (1, ['{"id":"al2","v":"notanumber"}'])
    finally:
        services.close()
    # A second start does nothing: the rows stay where they are, and no upgrade is logged.
    caplog.clear()
    services = make_services(data)
    try:
        _check_upgraded(services.warehouse)
        assert "upgrade" not in caplog.text
    finally:
        services.close()


def test_an_old_layout_without_run_owners_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with gzip.open(FIXTURE / "warehouse.duckdb.gz") as src, path.open("wb") as out:
        shutil.copyfileobj(src, out)
    with pytest.raises(Exception, match="before data per project"):
        DuckDBDestination(path, memory_limit="256MB", spill_dir=tmp_path / "spill")
    owners = RunOwners({ALPHA_RUN: "alpha", BETA_RUN: "beta"})
    warehouse = DuckDBDestination(
        path, memory_limit="256MB", spill_dir=tmp_path / "spill", owners=lambda: owners
    )
    try:
        _check_upgraded(warehouse)
    finally:
        warehouse.close()


# The DDL of ingestd a0ac6a5 (then ingestd/dataplane/postgres_schema.py) and what its loads
# wrote.
OLD_POSTGRES = f"""
CREATE SCHEMA _ingestd;
CREATE TABLE _ingestd.ledger (
    load_key text PRIMARY KEY, table_name text NOT NULL, unit_id text, run_id text,
    mode text, day date, fingerprint text, files jsonb, read bigint, inserted bigint,
    updated bigint, rejected bigint, errors bigint, tags jsonb, loaded_at timestamp
);
CREATE INDEX ledger_table_name ON _ingestd.ledger (table_name);
CREATE TABLE _ingestd.quarantine (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, load_key text NOT NULL,
    unit_id text, run_id text, table_name text NOT NULL, file text, line bigint,
    record bigint, column_name text, code text NOT NULL, message text, raw text,
    quarantined_at timestamp DEFAULT (now() AT TIME ZONE 'UTC')
);
CREATE INDEX quarantine_load_key ON _ingestd.quarantine (load_key);
CREATE INDEX quarantine_table_name ON _ingestd.quarantine (table_name, id);
CREATE SCHEMA s;
CREATE TABLE s.t (id text, v bigint, _ingestd_load_key text, _ingestd_day date);
CREATE INDEX ingestd_0 ON s.t USING btree (id);
CREATE TABLE s.log (id text, v bigint, _ingestd_load_key text, _ingestd_day date);
INSERT INTO s.t VALUES ('a2', 2, 'source:1:2024-03-01', '2024-03-01'),
    ('k1', 10, 'source:3:2024-03-01', '2024-03-01'),
    ('b2', 20, 'source:3:2024-03-01', '2024-03-01'), ('orphan', 99, 'gone:key', NULL);
INSERT INTO s.log VALUES ('al1', 1, 'source:2:2024-03-01', '2024-03-01'),
    ('bl1', 1, 'source:4:2024-03-01', '2024-03-01'),
    ('bl3', 3, 'source:4:2024-03-01', '2024-03-01');
INSERT INTO _ingestd.ledger (load_key, table_name, unit_id, run_id, mode, day, inserted, tags)
VALUES ('source:1:2024-03-01', 's.t', 'u1', '{ALPHA_RUN}', 'upsert', '2024-03-01', 2, '[]'),
    ('source:2:2024-03-01', 's.log', 'u2', '{ALPHA_RUN}', 'append', '2024-03-01', 1, '[]'),
    ('source:3:2024-03-01', 's.t', 'u3', '{BETA_RUN}', 'upsert', '2024-03-01', 1, '[]'),
    ('source:4:2024-03-01', 's.log', 'u4', '{BETA_RUN}', 'append', '2024-03-01', 2, '[]');
INSERT INTO _ingestd.quarantine (load_key, unit_id, run_id, table_name, code, raw)
VALUES ('source:2:2024-03-01', 'u2', '{ALPHA_RUN}', 's.log', 'INVALID_INT64',
        '{{"id":"al2","v":"notanumber"}}'),
    ('source:4:2024-03-01', 'u4', '{BETA_RUN}', 's.log', 'INVALID_INT64',
        '{{"id":"bl2","v":"bad"}}');
"""


@pytest.mark.postgres
def test_a_postgres_destination_of_the_old_layout_is_upgraded_at_start(
    tmp_path: Path, postgres_url: str
) -> None:
    base = postgres_url.rsplit("/", 1)[0]
    name = f"{postgres_url.rsplit('/', 1)[1]}_upgrade"
    admin = psycopg_conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
            conn.execute(OLD_POSTGRES)
        owners = RunOwners({ALPHA_RUN: "alpha", BETA_RUN: "beta"})
        for _ in range(2):  # the second start finds the new layout and changes nothing
            warehouse = PostgresDestination(
                url, memory_limit="256MB", spill_dir=tmp_path / "spill", owners=lambda: owners
            )
            try:
                _check_upgraded(warehouse)
                # The ledger's key is (project, load_key): beta may now use alpha's load key.
                [(key,)] = warehouse.query(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = '_ingestd.ledger'::regclass AND contype = 'p'"
                )
                assert key == "PRIMARY KEY (project, load_key)"
            finally:
                warehouse.close()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
