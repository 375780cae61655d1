"""Databricks SQL warehouses: databricks-sql-connector, results as Arrow tables.

The connector fetches Arrow results (Cloud Fetch for large ones) and hands them over in slices
of ``BATCH_ROWS``; types: the Spark SQL types as Arrow (DECIMAL up to 38 digits, TIMESTAMP in
UTC, TIMESTAMP_NTZ naive, BINARY, ARRAY/MAP/STRUCT). Canceling calls the cursor's ``cancel``,
which stops the running statement on the warehouse.

Settings: ``server_hostname`` and ``http_path`` (required; Statsig's connection calls them
``host`` and ``path``), ``catalog``, ``schema``, ``port``.
Secret: ``access_token`` (or ``token``), a personal access token.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    first_line,
    interruptible,
    missing_driver,
    query_failed,
    rejected_credentials,
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import stage_stream
from ingestd.errors import ConnectionConfigError, UnitError

BATCH_ROWS = 100_000
SOCKET_TIMEOUT_SECONDS = 900
RETRY_ATTEMPTS = 2
"""The connector's own retries; ingestd retries CONNECTION_ERROR itself, with backoff."""
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_AUTH_SIGNS = ("401", "403", "invalid access token", "unauthorized", "permission_denied")


@dataclass(frozen=True)
class WorkspaceAddress:
    """The workspace host as the connector wants it: a bare host name, a port, an HTTP path."""

    host: str
    port: int | None
    http_path: str | None


def _config_error(query: SourceQuery, key: str, value: str, problem: str) -> ConnectionConfigError:
    return ConnectionConfigError(
        f"{query.label} (databricks): config.{key} {value!r} {problem}",
        hint=f"set {key} to the workspace host name (e.g. adb-123.4.azuredatabricks.net), "
        "the port in config.port and the warehouse's path in config.http_path",
    )


def parse_host(query: SourceQuery, key: str, value: str) -> WorkspaceAddress:
    """Split a host setting such as ``host``, ``host:443``, ``https://host:443/`` or
    ``host:443/sql/1.0/warehouses/x`` into host, port and path; anything else that is not a
    host name is CONNECTION_CONFIG_ERROR naming the setting."""
    text = str(value).strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        rest = text
    elif scheme.lower() != "https":
        raise _config_error(query, key, text, "has a scheme other than https://")
    authority, slash, path = rest.partition("/")
    name, colon, port_text = authority.rpartition(":")
    if not colon:
        name, port_text = authority, ""
    port: int | None = None
    if colon:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _config_error(query, key, text, "has a port that is not a number 1-65535")
        port = int(port_text)
    if not _HOST_NAME.fullmatch(name):
        raise _config_error(query, key, text, "is not a host name")
    http_path = "/" + path.strip("/") if slash and path.strip("/") else None
    return WorkspaceAddress(name, port, http_path)


def _connect_args(query: SourceQuery) -> dict[str, Any]:
    # ``host`` and ``path`` are the names of Statsig's Databricks connection.
    host_key = "server_hostname" if query.setting("server_hostname") else "host"
    raw_host = query.setting(host_key) or query.required(
        "server_hostname", "the workspace host name"
    )
    address = parse_host(query, host_key, raw_host)
    path = query.setting("http_path") or query.setting("path")
    if path and address.http_path and "/" + str(path).strip("/") != address.http_path:
        raise _config_error(
            query,
            host_key,
            str(raw_host),
            f"has a path that differs from config.http_path {path!r}",
        )
    port = address.port
    if query.setting("port") not in (None, ""):
        port_text = str(query.setting("port")).strip()
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _config_error(query, "port", port_text, "is not a number 1-65535")
        if port is not None and port != int(port_text):
            raise _config_error(
                query,
                host_key,
                str(raw_host),
                f"has a port that differs from config.port {port_text}",
            )
        port = int(port_text)
    args: dict[str, Any] = {
        "server_hostname": address.host,
        "http_path": path
        or address.http_path
        or query.required("http_path", "the SQL warehouse's HTTP path"),
        "access_token": query.secret("access_token") or query.secret("token"),
        "catalog": query.setting("catalog"),
        "schema": query.setting("schema"),
        "_socket_timeout": int(query.setting("socket_timeout", SOCKET_TIMEOUT_SECONDS)),
        "_retry_stop_after_attempts_count": RETRY_ATTEMPTS,
        "user_agent_entry": "ingestd",
        "_port": port,  # the connector's keyword for a port other than 443
    }
    return {k: v for k, v in args.items() if v is not None}


def translate(query: SourceQuery, exc: Exception) -> UnitError:
    """Connector errors: HTTP 401/403 are rejected credentials; request and network errors are
    unreachable; statement errors are the query's."""
    from databricks.sql import exc as dbx

    detail = first_line(exc)
    lowered = str(exc).lower()
    try:
        args = _connect_args(query)
        where = f"{args['server_hostname']}:{args.get('_port', 443)}"
    except ConnectionConfigError:  # not reached: read() parsed the settings before connecting
        where = str(query.setting("server_hostname") or query.setting("host"))
    if any(sign in lowered for sign in _AUTH_SIGNS) and not isinstance(
        exc, dbx.ServerOperationError
    ):
        return rejected_credentials(query, detail)
    if isinstance(exc, dbx.ServerOperationError | dbx.ProgrammingError):
        return query_failed(query, detail)
    if isinstance(exc, dbx.RequestError | dbx.OperationalError | dbx.InterfaceError | OSError):
        return unreachable(query, where, detail)
    if not isinstance(exc, dbx.Error):  # urllib3's errors escape the connector on connect
        return unreachable(query, where, detail)
    return query_failed(query, detail)


def _batches(cursor: Any) -> Iterator[pa.RecordBatch]:
    while True:
        table = cursor.fetchmany_arrow(BATCH_ROWS)
        if table.num_rows == 0:
            return
        yield from table.to_batches()


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    try:
        import urllib3
        from databricks import sql
    except ImportError as exc:
        raise missing_driver("databricks", "databricks-sql-connector") from exc
    args = _connect_args(query)
    # Egress: the workspace host is checked before the connector (which resolves it itself) runs.
    query.check_host(str(args["server_hostname"]), int(args.get("_port", 443)))
    target = target_dir / "result.parquet"
    foreign = (sql.exc.Error, urllib3.exceptions.HTTPError, OSError)
    try:
        with sql.connect(**args) as conn, conn.cursor() as cursor:

            def interrupt() -> None:
                # finished meanwhile, or the warehouse is unreachable
                with contextlib.suppress(*foreign):
                    cursor.cancel()

            with interruptible(query, interrupt):
                cursor.execute(query.sql)
                return stage_stream(
                    query,
                    target,
                    _batches(cursor),
                    lambda: [d[0] for d in cursor.description or []],
                )
    except foreign as exc:
        raise translate(query, exc) from exc
