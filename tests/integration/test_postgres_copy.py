"""The PostgreSQL destination's COPY: binary when the staged types are the columns' own, CSV
when a column was retyped, and a failure in the middle of the stream (a value PostgreSQL
refuses in the last of several files, a connection killed while rows flow) leaves nothing
behind and the counts exact."""

from __future__ import annotations

import datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from ingestd.dataplane import postgres_copy
from ingestd.dataplane.contract import LoadRequest, Progress
from ingestd.dataplane.pipeline import DataPlane
from ingestd.dataplane.postgres_warehouse import PostgresWarehouse, psycopg_conninfo
from ingestd.domain.mapping import identity_mapping
from ingestd.domain.tables import Column, ColumnType, TableSpec
from ingestd.errors import DestinationError
from tests.unit.dataplane.harness import csv_text, empty_postgres

pytestmark = pytest.mark.postgres

TABLE = TableSpec(
    "demo",
    "stream",
    (
        Column("id", ColumnType.INT64, nullable=False),
        Column("name", ColumnType.STRING),
        Column("doc", ColumnType.JSON),
        Column("at", ColumnType.TIMESTAMP),
    ),
    project="test",
)
ROWS_PER_FILE = 70_000
"""More than one COPY batch (``postgres_copy.BATCH_ROWS``) per file."""


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    empty_postgres(postgres_url)
    return postgres_url


def _files(tmp_path: Path, count: int, bad_in_last: bool = False) -> list[Path]:
    paths = []
    for f in range(count):
        rows = [
            (f * ROWS_PER_FILE + i, f"n{i}", f'{{"i": {i}}}', "1999-12-31 23:59:59.000001")
            for i in range(ROWS_PER_FILE)
        ]
        if bad_in_last and f == count - 1:
            # Valid for DuckDB, refused by jsonb: near the end, so good rows flowed before it.
            rows[-10] = (rows[-10][0], "bad", '{"a": NaN}', None)
        path = tmp_path / f"part-{f}.csv"
        path.write_text(csv_text(["id", "name", "doc", "at"], rows))
        paths.append(path)
    return paths


def _request(paths: list[Path], key: str = "k1") -> LoadRequest:
    return LoadRequest(
        key,
        "u1",
        "r1",
        TABLE,
        identity_mapping(TABLE),
        tuple(paths),
        tuple(p.name for p in paths),
        day=datetime.date(2024, 3, 1),
    )


def _one(url: str, query: str) -> object:
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        return None if row is None else row[0]


def test_binary_copy_is_chosen_only_for_the_columns_own_types() -> None:
    schema = pa.schema(
        [
            ("s", pa.string()),
            ("i", pa.int64()),
            ("f", pa.float64()),
            ("b", pa.bool_()),
            ("d", pa.date32()),
            ("t", pa.timestamp("us")),
            ("j", pa.string()),
            ("n", pa.int32()),
        ]
    )
    types: list[str | None] = [
        "text",
        "bigint",
        "double precision",
        "boolean",
        "date",
        "timestamp without time zone",
        "jsonb",
        "integer",
    ]
    assert postgres_copy.binary_encoder(schema, types) is not None
    # A bigint sent to an integer column, a zoned timestamp, an unknown column: CSV.
    for index, wrong in ((1, "integer"), (5, "timestamp with time zone"), (0, None)):
        retyped = list(types)
        retyped[index] = wrong
        assert postgres_copy.binary_encoder(schema, retyped) is None
    zoned = schema.set(5, pa.field("t", pa.timestamp("us", tz="UTC")))
    assert postgres_copy.binary_encoder(zoned, types) is None
    assert postgres_copy.binary_encoder(pa.schema([("x", pa.null())]), ["text"]) is None


def test_a_table_retyped_by_hand_still_loads_through_csv(tmp_path: Path, pg_url: str) -> None:
    warehouse = PostgresWarehouse(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    try:
        warehouse.ensure_table(TABLE)
        # Binary COPY would send int8 into this int4 column and fail; CSV converts.
        with psycopg.connect(psycopg_conninfo(pg_url), autocommit=True) as conn:
            conn.execute("ALTER TABLE test__demo.stream ALTER COLUMN id TYPE integer")
        paths = _files(tmp_path, 1)
        result = DataPlane(warehouse, tmp_path / "staging").load(_request(paths))
    finally:
        warehouse.close()
    assert result.counts.inserted == ROWS_PER_FILE
    assert _one(pg_url, "SELECT count(DISTINCT id) FROM test__demo.stream") == ROWS_PER_FILE


def test_a_refused_value_in_the_last_file_leaves_the_counts_exact(
    tmp_path: Path, pg_url: str
) -> None:
    paths = _files(tmp_path, 3, bad_in_last=True)
    warehouse = PostgresWarehouse(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    try:
        result = DataPlane(warehouse, tmp_path / "staging").load(_request(paths))
    finally:
        warehouse.close()
    total = 3 * ROWS_PER_FILE
    assert (result.counts.read, result.counts.inserted, result.counts.errors) == (
        total,
        total - 1,
        1,
    )
    assert _one(pg_url, "SELECT count(*) FROM test__demo.stream") == total - 1
    assert _one(pg_url, "SELECT count(*) FROM _ingestd.quarantine") == 1
    assert _one(pg_url, "SELECT inserted FROM _ingestd.ledger WHERE load_key = 'k1'") == total - 1
    # The binary path carried the values exactly: microseconds of a timestamp before 2000.
    assert _one(pg_url, "SELECT min(at)::text FROM test__demo.stream") == (
        "1999-12-31 23:59:59.000001"
    )


def test_a_connection_killed_while_rows_flow_leaves_nothing(tmp_path: Path, pg_url: str) -> None:
    paths = _files(tmp_path, 3)
    killed: list[int] = []

    def kill_the_copy(progress: Progress) -> None:
        # After the first batch reached PostgreSQL: end the loader's backend from outside.
        if progress.phase != "writing" or not progress.rows_written or killed:
            return
        with psycopg.connect(psycopg_conninfo(pg_url), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'COPY%%' "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        killed.append(len(rows))

    warehouse = PostgresWarehouse(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
    try:
        plane = DataPlane(warehouse, tmp_path / "staging")
        with pytest.raises(DestinationError):
            plane.load(_request(paths), progress=kill_the_copy)
        assert killed == [1]
        assert _one(pg_url, "SELECT count(*) FROM test__demo.stream") == 0
        assert _one(pg_url, "SELECT count(*) FROM _ingestd.ledger") == 0
        assert _one(pg_url, "SELECT count(*) FROM _ingestd.quarantine") == 0
        # The same load again, on a fresh connection from the pool, lands exactly once.
        result = plane.load(_request(paths))
    finally:
        warehouse.close()
    assert result.counts.inserted == 3 * ROWS_PER_FILE
    assert _one(pg_url, "SELECT count(*) FROM test__demo.stream") == 3 * ROWS_PER_FILE
    assert _one(pg_url, "SELECT read FROM _ingestd.ledger WHERE load_key = 'k1'") == (
        3 * ROWS_PER_FILE
    )
