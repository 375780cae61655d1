"""SQL sources: run a source's query on its connection and stage the result for loading.

``extract`` is the one entry point. Each kind of connection has a reader (``READERS``) in a
module named for its driver family; drivers are optional extras, imported only when a query of
their kind runs, and a missing one is a CONNECTION_CONFIG_ERROR that names the extra to install.
Every reader streams: the result is written to a local Parquet file batch by batch (DuckDB with
its own COPY), so memory does not grow with the row count.

Errors (translated once, in each reader's ``translate``): rejected credentials are
AUTHENTICATION_ERROR, an unreachable server CONNECTION_ERROR (Transient, retried), failing SQL
QUERY_ERROR; a cancel of the unit while the query runs interrupts the driver and raises
CANCELED. Messages name the connection and the statement, never a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.contract import CancelToken
from ingestd.dataplane.sql import (
    athena,
    bigquery,
    databricks,
    duckdb_file,
    mysql,
    postgres,
    snowflake,
    sqlite_file,
    synapse,
)
from ingestd.dataplane.sql.base import Extracted, Reader, SourceQuery, canceled
from ingestd.domain.file_access import ProjectFiles
from ingestd.errors import Canceled, ConnectionConfigError, UnitError

READERS: Mapping[str, Reader] = {
    "duckdb": duckdb_file.read,
    "sqlite": sqlite_file.read,
    "postgres": postgres.read,
    "redshift": postgres.read,
    "mysql": mysql.read,
    "snowflake": snowflake.read,
    "bigquery": bigquery.read,
    "databricks": databricks.read,
    "athena": athena.read,
    "synapse": synapse.read,
}
SQL_KINDS = frozenset(READERS)
"""Connection kinds a query source can read through."""

__all__ = ["SQL_KINDS", "Extracted", "SourceQuery", "extract"]


def extract(
    kind: str,
    connection_name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    query: str,
    target_dir: Path,
    files: ProjectFiles,
    cancel: CancelToken | None = None,
    egress: EgressPolicy | None = None,
    row_limit: int | None = None,
) -> Extracted:
    """Run ``query`` (rendered for its day) on the connection and stage its whole result as
    one file under ``target_dir``. Canceling ``cancel`` stops the query and raises CANCELED.
    The connection's host must pass ``egress`` (default: public addresses only). With
    ``row_limit`` (a preview) at most that many rows are read and staged."""
    reader = READERS.get(kind)
    if reader is None:
        raise ConnectionConfigError(
            f"connection {connection_name!r} of kind {kind!r} cannot run queries",
            hint=f"query sources need a connection of kind {', '.join(sorted(SQL_KINDS))}",
        )
    source = SourceQuery(
        kind,
        connection_name,
        config,
        secrets,
        query,
        files,
        cancel,
        egress if egress is not None else EgressPolicy(),
        row_limit,
    )
    target_dir.mkdir(parents=True, exist_ok=True)
    try:
        return reader(source, target_dir)
    except UnitError as exc:
        # An interrupted driver reports the interruption as its own error; it was a cancel.
        if cancel is not None and cancel.canceled and not isinstance(exc, Canceled):
            raise canceled(source) from exc
        raise
