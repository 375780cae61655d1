"""SQL sources: run a source query and stream its result into a local file to load.

The result never sits in memory whole: DuckDB sources are copied with DuckDB's own streaming
``COPY ... TO`` (Parquet, typed); PostgreSQL and Redshift sources with ``COPY (query) TO STDOUT``
(CSV, streamed to disk in chunks); SQLite sources in batches through Arrow into Parquet.
Driver errors are translated here, once: rejected credentials are AUTHENTICATION_ERROR,
unreachable hosts CONNECTION_ERROR (Transient), failing SQL QUERY_ERROR. Messages name the
connection and the statement, never a secret.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestd.dataplane.coerce import sql_literal
from ingestd.dataplane.files import check_allowed
from ingestd.domain.sources import DataFormat
from ingestd.errors import (
    AuthenticationError,
    ConnectionConfigError,
    ConnectionFailure,
    FetchNotAllowed,
    QueryError,
)

SQL_KINDS = frozenset({"duckdb", "sqlite", "postgres", "redshift"})
_BATCH_ROWS = 50_000
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Extracted:
    path: Path
    format: DataFormat
    name: str


def extract(
    kind: str,
    connection_name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    query: str,
    target_dir: Path,
    file_roots: tuple[Path, ...],
) -> Extracted:
    """Run ``query`` on the connection and write its rows under ``target_dir``."""
    target_dir.mkdir(parents=True, exist_ok=True)
    shown = query if len(query) <= 200 else query[:200] + "..."
    if kind == "duckdb":
        return _duckdb(connection_name, config, query, shown, target_dir, file_roots)
    if kind == "sqlite":
        return _sqlite(connection_name, config, query, shown, target_dir, file_roots)
    if kind in ("postgres", "redshift"):
        return _postgres(connection_name, config, secrets, query, shown, target_dir)
    raise ConnectionConfigError(
        f"connection {connection_name!r} of kind {kind!r} cannot run queries",
        hint=f"query sources need a connection of kind {', '.join(sorted(SQL_KINDS))}",
    )


def _database_file(name: str, config: dict[str, Any], roots: tuple[Path, ...]) -> Path:
    path = config.get("path")
    if not isinstance(path, str) or not path:
        raise ConnectionConfigError(f"connection {name!r} needs config.path, a database file")
    try:
        resolved = check_allowed(Path(path), roots)
    except FetchNotAllowed as exc:
        raise ConnectionConfigError(f"connection {name!r}: {exc.message}", hint=exc.hint) from exc
    if not resolved.is_file():
        raise ConnectionConfigError(f"connection {name!r}: database file {path} does not exist")
    return resolved


def _duckdb(
    name: str,
    config: dict[str, Any],
    query: str,
    shown: str,
    target_dir: Path,
    roots: tuple[Path, ...],
) -> Extracted:
    database = _database_file(name, config, roots)
    target = target_dir / "result.parquet"
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            con.execute(
                f"COPY ({query.rstrip().rstrip(';')}) TO {sql_literal(str(target))} "
                "(FORMAT parquet)"
            )
    except duckdb.IOException as exc:
        raise ConnectionFailure(f"connection {name!r}: cannot open {database}: {exc}") from exc
    except duckdb.Error as exc:
        raise QueryError(
            f"connection {name!r}: the query failed: {str(exc).splitlines()[0]}",
            hint=f"statement: {shown}",
        ) from exc
    return Extracted(target, DataFormat.PARQUET, f"{name}: query result")


def _sqlite(
    name: str,
    config: dict[str, Any],
    query: str,
    shown: str,
    target_dir: Path,
    roots: tuple[Path, ...],
) -> Extracted:
    database = _database_file(name, config, roots)
    target = target_dir / "result.parquet"
    try:
        con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConnectionFailure(f"connection {name!r}: cannot open {database}: {exc}") from exc
    try:
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description or []]
        writer: pq.ParquetWriter | None = None
        schema: pa.Schema | None = None
        try:
            while rows := cursor.fetchmany(_BATCH_ROWS):
                # SQLite values are dynamically typed: carry them as text, the mapping types them.
                table = pa.table(
                    {
                        col: pa.array(
                            [None if r[i] is None else str(r[i]) for r in rows], pa.string()
                        )
                        for i, col in enumerate(columns)
                    }
                )
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(str(target), schema)
                writer.write_table(table)
            if writer is None:
                empty = pa.schema([(c, pa.string()) for c in columns])
                pq.write_table(empty.empty_table(), str(target))
        finally:
            if writer is not None:
                writer.close()
    except sqlite3.Error as exc:
        raise QueryError(
            f"connection {name!r}: the query failed: {exc}", hint=f"statement: {shown}"
        ) from exc
    finally:
        con.close()
    return Extracted(target, DataFormat.PARQUET, f"{name}: query result")


def _postgres(
    name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    query: str,
    shown: str,
    target_dir: Path,
) -> Extracted:
    import psycopg

    params: dict[str, Any] = {
        key: config[key]
        for key in ("host", "port", "dbname", "user", "sslmode", "connect_timeout")
        if key in config
    }
    params.setdefault("connect_timeout", 10)
    if "password" in secrets:
        params["password"] = secrets["password"]
    target = target_dir / "result.csv"
    try:
        with psycopg.connect(**params) as conn, target.open("wb") as out:
            statement = f"COPY ({query.rstrip().rstrip(';')}) TO STDOUT WITH (FORMAT csv, HEADER)"
            with conn.cursor().copy(statement) as copy:
                for chunk in copy:
                    out.write(chunk)
    except psycopg.OperationalError as exc:
        text = str(exc).lower()
        if "password" in text or "authentication" in text or "role" in text:
            raise AuthenticationError(
                f"connection {name!r}: the server rejected the credentials",
                hint="check the connection's user and password",
            ) from exc
        raise ConnectionFailure(
            f"connection {name!r}: cannot reach {params.get('host', 'localhost')}:"
            f"{params.get('port', 5432)} ({str(exc).splitlines()[0] if str(exc) else 'no answer'})"
        ) from exc
    except psycopg.Error as exc:
        raise QueryError(
            f"connection {name!r}: the query failed: {str(exc).splitlines()[0]}",
            hint=f"statement: {shown}",
        ) from exc
    return Extracted(target, DataFormat.CSV, f"{name}: query result")
