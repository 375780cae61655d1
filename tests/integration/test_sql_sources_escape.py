"""DuckDB and SQLite sources cannot escape their database file.

Each statement of the issue's escape list runs through the real reader against a real database
file under a file root; each must fail with a clear QUERY_ERROR, and no file outside the staging
folder may be created or read. Normal SELECTs (CTEs, recursive CTEs) still load.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ingestd.dataplane.sql import duckdb_file, sqlite_file
from ingestd.dataplane.sql.base import SourceQuery
from ingestd.domain.datasets import DATASET_TABLES
from ingestd.domain.file_access import ProjectFiles
from ingestd.domain.states import UnitState
from ingestd.errors import ConnectionConfigError, QueryError
from ingestd.services import Services
from tests.conftest import make_services
from tests.integration.sql_runs import run_query_source


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every root, holding a secret file and a 'metadata.sqlite'."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.csv").write_text("password\nhunter2\n")
    with sqlite3.connect(path / "metadata.sqlite") as con:
        con.execute("CREATE TABLE connections (secret TEXT)")
        con.execute("INSERT INTO connections VALUES ('s3cr3t')")
    con.close()
    return path


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    path = tmp_path / "staging"
    path.mkdir()
    return path


def _duckdb_db(root: Path) -> Path:
    path = root / "source.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (a INTEGER, b VARCHAR)")
        con.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    return path


def _sqlite_db(root: Path) -> Path:
    path = root / "source.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        con.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    con.close()
    return path


def _query(kind: str, database: Path, sql: str, root: Path) -> SourceQuery:
    return SourceQuery(
        kind, "db", {"path": str(database)}, {}, sql, ProjectFiles("test", (root.resolve(),))
    )


def _files(*folders: Path) -> set[Path]:
    return {p for folder in folders for p in folder.rglob("*")}


META = "OUT/metadata.sqlite"

DUCKDB_ESCAPES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv(['/etc/passwd'])",
    "SELECT * FROM read_csv('OUT/secret.csv')",
    "SELECT * FROM 'OUT/secret.csv'",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM read_json_objects('/etc/hostname')",
    "SELECT * FROM parquet_metadata('OUT/secret.csv')",
    "SELECT * FROM glob('/etc/*')",
    f"SELECT * FROM read_blob('{META}')",
    f"SELECT * FROM read_text('{META}')",
    f"SELECT a FROM t WHERE a IN (SELECT length(content) FROM read_blob('{META}'))",
    "SELECT * FROM query($$COPY t TO 'OUT/q.csv'$$)",
    "SELECT * FROM duckdb_extensions()",
    "COPY t TO 'OUT/copied.csv'",
    "COPY (SELECT * FROM t) TO 'OUT/copied.parquet' (FORMAT parquet)",
    "ATTACH 'OUT/new.duckdb' AS x",
    f"ATTACH '{META}' AS m (TYPE sqlite)",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "PRAGMA database_list",
    "CREATE TABLE u (a INTEGER)",
    "INSERT INTO t VALUES (3, 'z')",
    "DROP TABLE t",
    "PIVOT t ON a",
    "SELECT 1; SELECT 2",
    "SELECT * FROM t; COPY t TO 'OUT/copied2.csv'",
    "EXPORT DATABASE 'OUT/export'",
    "CHECKPOINT",
]

SQLITE_ESCAPES = [
    "ATTACH DATABASE 'OUT/new.sqlite' AS x",
    f"ATTACH DATABASE '{META}' AS m",
    "VACUUM INTO 'OUT/copy.sqlite'",
    "VACUUM",
    "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so')",
    "INSERT INTO t VALUES (3, 'z')",
    "UPDATE t SET b = 'w'",
    "DELETE FROM t",
    "CREATE TABLE u (a INTEGER)",
    "CREATE TEMP TABLE u (a INTEGER)",
    "DROP TABLE t",
    "PRAGMA writable_schema = ON",
    "PRAGMA query_only = OFF",
    "PRAGMA journal_mode = WAL",
    "BEGIN",
    "SELECT 1; SELECT 2",
    "SELECT * FROM t; ATTACH DATABASE 'OUT/new2.sqlite' AS y",
]


ENGINES = {"duckdb": (_duckdb_db, duckdb_file.read), "sqlite": (_sqlite_db, sqlite_file.read)}


@pytest.mark.parametrize(
    ("kind", "template"),
    [("duckdb", t) for t in DUCKDB_ESCAPES] + [("sqlite", t) for t in SQLITE_ESCAPES],
)
def test_a_source_cannot_escape(
    root: Path, outside: Path, staging: Path, kind: str, template: str
) -> None:
    make_database, reader = ENGINES[kind]
    database = make_database(root)
    sql = template.replace("OUT", str(outside))
    before = _files(root, outside, staging)
    before_bytes = database.read_bytes()
    with pytest.raises(QueryError) as caught:
        reader(_query(kind, database, sql, root), staging)
    error = caught.value
    assert error.code == "QUERY_ERROR"
    assert "connection 'db'" in error.message
    assert "hunter2" not in error.message and "s3cr3t" not in error.message
    assert _files(root, outside, staging) - before <= {staging / "result.parquet"}
    assert not (staging / "result.parquet").exists() or pq.read_table(
        staging / "result.parquet"
    ).num_rows in (0, 2)
    assert database.read_bytes() == before_bytes


def test_statement_refusals_say_only_one_select_is_allowed(root: Path, staging: Path) -> None:
    for kind, reader, database in (
        ("duckdb", duckdb_file.read, _duckdb_db(root)),
        ("sqlite", sqlite_file.read, _sqlite_db(root)),
    ):
        for sql in ("SELECT 1; SELECT 2", "DROP TABLE t"):
            with pytest.raises(QueryError, match="only one read-only SELECT"):
                reader(_query(kind, database, sql, root), staging)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a, b FROM t ORDER BY a;",
        "WITH x AS (SELECT a, b FROM t) SELECT a, b FROM x ORDER BY a",
        "WITH RECURSIVE n(a, b) AS (SELECT 1, 'x' UNION ALL SELECT a + 1, 'y' FROM n WHERE a < 2)"
        " SELECT a, b FROM n",
    ],
)
@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_read_only_selects_still_load(root: Path, staging: Path, kind: str, sql: str) -> None:
    if kind == "duckdb":
        extracted = duckdb_file.read(_query(kind, _duckdb_db(root), sql, root), staging)
    else:
        extracted = sqlite_file.read(_query(kind, _sqlite_db(root), sql, root), staging)
    table = pq.read_table(extracted.path)
    assert [str(v) for v in table.column(0).to_pylist()] == ["1", "2"]
    assert table.column(1).to_pylist() == ["x", "y"]


def test_a_sqlite_path_cannot_smuggle_uri_parameters(root: Path, staging: Path) -> None:
    """A file literally named ``...?mode=rwc`` is opened as that file, read-only."""
    database = root / "odd.sqlite?mode=rwc&vfs=unix-none#x"
    with sqlite3.connect(f"file:{database.as_uri()[7:]}", uri=True) as con:
        con.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        con.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y')")
    con.close()
    assert database.is_file()
    extracted = sqlite_file.read(_query("sqlite", database, "SELECT a, b FROM t", root), staging)
    assert pq.read_table(extracted.path).num_rows == 2
    with pytest.raises(QueryError):
        sqlite_file.read(_query("sqlite", database, "DELETE FROM t", root), staging)
    assert sorted(p.name for p in root.iterdir()) == [database.name]


def test_an_escape_fails_the_unit_permanently(tmp_path: Path) -> None:
    svc = make_services(tmp_path / "data", retry_base_seconds=0.01, retry_max_attempts=2)
    try:
        path = svc.settings.data_dir / "files" / "acme" / "source.duckdb"
        path.parent.mkdir(parents=True, exist_ok=True)
        _duckdb_db(path.parent).rename(path)
        unit = run_query_source(
            svc,
            "duckdb",
            {"path": str(path)},
            "SELECT * FROM read_csv('/etc/passwd')",
            DATASET_TABLES["events"],
        )
        assert unit.state is UnitState.FAILED
        assert unit.error_code == "QUERY_ERROR"
        assert "root:" not in (unit.error_message or "")
    finally:
        svc.close()


@pytest.fixture
def svc_with_data_dir_root(tmp_path: Path) -> Iterator[Services]:
    """Services whose test policy (below) makes the whole data directory a root: ingestd's own
    files must stay refused even then (a grant like that is refused at start; the policy is
    built by hand to show the forbidden list holds on its own)."""
    services = make_services(tmp_path / "data", retry_base_seconds=0.01, retry_max_attempts=1)
    yield services
    services.close()


@pytest.mark.parametrize(
    ("kind", "name"), [("sqlite", "metadata.sqlite"), ("duckdb", "warehouse.duckdb")]
)
def test_a_source_on_ingestds_own_files_is_refused(
    svc_with_data_dir_root: Services, staging: Path, kind: str, name: str
) -> None:
    svc = svc_with_data_dir_root
    project_id = svc.access.ensure_project("acme")
    svc.warehouse.query("SELECT 1")  # the warehouse file exists once used
    whole_data_dir = ProjectFiles(
        "acme",
        (svc.settings.data_dir.resolve(),),
        svc.file_access.for_project(project_id).forbidden,
    )
    own = svc.settings.data_dir / name
    assert own.is_file()
    reader = sqlite_file.read if kind == "sqlite" else duckdb_file.read
    query = SourceQuery(kind, "db", {"path": str(own)}, {}, "SELECT 1", whole_data_dir)
    with pytest.raises(ConnectionConfigError):
        reader(query, staging)
