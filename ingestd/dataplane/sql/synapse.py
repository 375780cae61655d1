"""Azure Synapse (and SQL Server): Microsoft's mssql-python driver, results as Arrow batches.

mssql-python speaks TDS through the Microsoft ODBC Driver 18 that its wheel bundles (on Debian
and Ubuntu it needs the system's ``libltdl7``) and fetches results straight into Arrow record
batches: integers, DECIMAL/NUMERIC up to 38 digits, FLOAT/REAL, BIT as boolean, DATE, TIME,
DATETIME2 (naive), DATETIMEOFFSET (UTC), (N)VARCHAR, VARBINARY, UNIQUEIDENTIFIER. Canceling
cancels the running fetch (``SQLCancel``) and stops between batches.

Settings: ``host`` (required), ``port`` (1433), ``database``, ``user``, ``encrypt`` (true),
``trust_server_certificate`` (false), ``authentication`` (e.g. ActiveDirectoryServicePrincipal).
Secret: ``password``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

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
from ingestd.dataplane.sql.parquet_sink import stage_batches
from ingestd.errors import ConnectionConfigError, UnitError

DEFAULT_PORT = 1433
LOGIN_TIMEOUT_SECONDS = 15
BATCH_ROWS = 65_536
_AUTH_SIGNS = ("login failed", "28000", "18456")
_UNREACHABLE_SIGNS = (
    "tcp provider",
    "login timeout",
    "unable to establish connection",
    "communication link failure",
    "08001",
    "08s01",
    "connection is busy",
    "server was not found",
)


def _quoted(value: Any) -> str:
    """An ODBC connection string value, braced so ';' and '}' in it stay literal."""
    return "{" + str(value).replace("}", "}}") + "}"


def _connection_string(query: SourceQuery) -> str:
    def flag(key: str, default: bool) -> str:
        return "yes" if bool(query.setting(key, default)) else "no"

    query.check_host(
        str(query.required("host", "the server host name")),
        int(query.setting("port", DEFAULT_PORT)),
    )
    parts = {
        "Server": f"tcp:{query.required('host', 'the server host name')},"
        f"{int(query.setting('port', DEFAULT_PORT))}",
        "Database": query.setting("database"),
        "UID": query.setting("user"),
        "PWD": query.secret("password"),
        "Authentication": query.setting("authentication"),
        "Encrypt": flag("encrypt", True),
        "TrustServerCertificate": flag("trust_server_certificate", False),
    }
    return ";".join(f"{k}={_quoted(v)}" for k, v in parts.items() if v is not None)


def translate(query: SourceQuery, exc: Exception) -> UnitError:
    """mssql-python errors by the ODBC driver's words and SQLSTATE: a driver that cannot load
    is a configuration problem; login failures are rejected credentials; network failures are
    unreachable; the rest is the query's."""
    text = str(exc)
    lowered = text.lower()
    detail = first_line(exc)
    where = f"{query.setting('host')}:{query.setting('port', DEFAULT_PORT)}"
    if "failed to load the driver" in lowered:
        return ConnectionConfigError(
            f"{query.label}: the Microsoft ODBC driver bundled with mssql-python cannot load",
            hint="install the system library libltdl7 (apt-get install libltdl7)",
        )
    if any(sign in lowered for sign in _UNREACHABLE_SIGNS):
        return unreachable(query, where, detail)
    if any(sign in lowered for sign in _AUTH_SIGNS):
        return rejected_credentials(query, detail)
    return query_failed(query, detail)


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    try:
        import mssql_python
    except ImportError as exc:
        raise missing_driver("synapse", "mssql-python") from exc
    target = target_dir / "result.parquet"
    timeout = int(query.setting("login_timeout", LOGIN_TIMEOUT_SECONDS))
    readers: list[Any] = []

    def interrupt() -> None:
        for reader in readers:
            with contextlib.suppress(mssql_python.Error):
                reader.close()  # SQLCancel on the running fetch

    try:
        conn = mssql_python.connect(_connection_string(query), timeout=timeout)
        try:
            cursor = conn.cursor()
            with interruptible(query, interrupt):
                cursor.execute(query.sql)
                reader = cursor.arrow_reader(batch_size=BATCH_ROWS)
                readers.append(reader)
                return stage_batches(query, target, reader.schema, reader)
        finally:
            conn.close()
    except mssql_python.ConnectionStringParseError as exc:
        said = " ".join(str(exc).split())
        raise ConnectionConfigError(f"{query.label}: {query.scrub(said)}") from None
    except mssql_python.Error as exc:
        raise translate(query, exc) from exc
