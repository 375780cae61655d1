"""The PostgreSQL destination's COPY: binary when the staged types are the columns' own, CSV
when a column was retyped, and a failure in the middle of the stream (a value PostgreSQL
refuses in the last of several files, a connection killed while rows flow) leaves nothing
behind and the counts exact."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import psycopg
import psycopg.sql
import pyarrow as pa
import pytest

from ingestd.dataplane.contract import LoadRequest, Progress
from ingestd.dataplane.destinations.postgres import copy as postgres_copy
from ingestd.dataplane.destinations.postgres.destination import (
    PostgresDestination,
    psycopg_conninfo,
)
from ingestd.dataplane.pipeline import DataPlane
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
    warehouse = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
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
    warehouse = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
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

    warehouse = PostgresDestination(pg_url, memory_limit="256MB", spill_dir=tmp_path / "spill")
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


class _StopAfterFirstBatch(Exception):
    pass


def _scratch_table(url: str) -> None:
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.copied")
        conn.execute("CREATE TABLE public.copied (i bigint, s text)")


def _copy(url: str, select: str, progress: Callable[[int], None], binary: bool) -> int:
    duck = duckdb.connect()
    try:
        with psycopg.connect(psycopg_conninfo(url)) as conn, conn.cursor() as cur:
            try:
                return postgres_copy.copy_in(
                    duck,
                    select,
                    cur,
                    psycopg.sql.SQL("public.copied (i, s)"),
                    progress,
                    pg_types=["bigint", "text"] if binary else None,
                )
            finally:
                # The DuckDB result is closed however the copy ended: the cursor takes queries.
                assert duck.execute("SELECT 42").fetchall() == [(42,)]
    finally:
        duck.close()


def _encoders_running() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "copy-encode"]


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "csv"])
def test_every_batch_encoded_ahead_arrives_once_and_in_order(pg_url: str, binary: bool) -> None:
    _scratch_table(pg_url)
    seen: list[int] = []
    rows = 3 * postgres_copy.BATCH_ROWS + 17
    select = f"SELECT range AS i, 's' || range AS s FROM range({rows})"
    assert _copy(pg_url, select, seen.append, binary) == rows
    assert seen[-1] == rows and seen == sorted(seen)  # progress counts every row, once
    assert _one(pg_url, "SELECT count(DISTINCT i) FROM public.copied") == rows
    # In the stream's order: a fresh heap keeps COPY's rows in the order they were sent.
    out_of_order = (
        "SELECT count(*) FROM (SELECT i, row_number() OVER (ORDER BY ctid) - 1 AS n "
        "FROM public.copied) t WHERE i <> n"
    )
    assert _one(pg_url, out_of_order) == 0
    assert not _encoders_running()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "csv"])
def test_a_progress_that_raises_stops_the_encoder_and_the_copy(pg_url: str, binary: bool) -> None:
    _scratch_table(pg_url)

    def stop(sent: int) -> None:
        raise _StopAfterFirstBatch(f"stopped after {sent} rows")

    select = f"SELECT range AS i, 'x' AS s FROM range({20 * postgres_copy.BATCH_ROWS})"
    with pytest.raises(_StopAfterFirstBatch, match=f"after {postgres_copy.BATCH_ROWS} rows"):
        _copy(pg_url, select, stop, binary)
    assert not _encoders_running()
    assert _one(pg_url, "SELECT count(*) FROM public.copied") == 0  # the COPY was aborted


def test_an_error_of_the_reader_ahead_is_raised_by_the_copy(pg_url: str) -> None:
    _scratch_table(pg_url)
    # DuckDB fails only when it computes a later batch: in the encoding thread.
    late = 2 * postgres_copy.BATCH_ROWS
    select = (
        f"SELECT CASE WHEN range < {late} THEN range ELSE error('late failure') END AS i, "
        f"'x' AS s FROM range({4 * postgres_copy.BATCH_ROWS})"
    )
    # pyarrow's reader reports DuckDB's error as an OSError, in one loop as in the thread.
    with pytest.raises(OSError, match="late failure"):
        _copy(pg_url, select, lambda _: None, True)
    assert not _encoders_running()
    assert _one(pg_url, "SELECT count(*) FROM public.copied") == 0
