"""PostgreSQL and Redshift (one wire protocol): the ADBC PostgreSQL driver, as Arrow batches.

The driver reads the result with ``COPY ... TO STDOUT (FORMAT binary)`` and decodes it into
typed Arrow batches of about 16 MB in C (on Redshift, which has no COPY TO STDOUT, it reads
through a cursor instead). bench/sql_sources.py measured it against the earlier
``COPY ... TO STDOUT (FORMAT csv)`` path: a little slower to extract, faster to load, a staged
file a tenth the size, and types and NULL versus empty text kept. Types: integers, floats,
booleans, dates, times, timestamps (``timestamptz`` in UTC), ``bytea`` as binary, ``json`` and
``jsonb`` as JSON, arrays as lists; ``numeric`` keeps its exact text (it may be wider than any
decimal type, or NaN). Canceling sends the server a cancel request (``PQcancel``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    interruptible,
    missing_driver,
    query_failed,
    rejected_credentials,
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import stage_batches
from ingestd.errors import SourceTimeout, UnitError

if TYPE_CHECKING:
    import adbc_driver_manager

DEFAULT_PORT = 5432
CONNECT_TIMEOUT_SECONDS = 10
_SETTINGS = ("host", "port", "dbname", "user", "sslmode", "connect_timeout", "options")
_AUTH_SIGNS = (
    "password authentication failed",
    "authentication failed",
    "no password supplied",
    "no pg_hba.conf entry",
    "does not exist",  # FATAL: role "x" does not exist / database "x" does not exist
    "permission denied for database",
)


def _conninfo(query: SourceQuery) -> str:
    """libpq keyword/value settings (never echoed in libpq's messages, unlike a URI)."""
    values: dict[str, Any] = {k: query.config[k] for k in _SETTINGS if k in query.config}
    # The typed body stores ``database`` (the name users write); libpq calls it dbname.
    # Without it libpq would silently connect to the server's default database.
    database = query.setting("database") or query.setting("dbname")
    if database:
        values["dbname"] = database
    values.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    values.setdefault("host", "localhost")
    # libpq connects to hostaddr (checked by the egress policy) and keeps host for TLS and
    # verify-full; a list of hosts gets a list of addresses, each checked.
    hosts = str(values["host"]).split(",")
    ports = str(values.get("port", DEFAULT_PORT)).split(",")
    addresses = []
    for index, host in enumerate(hosts):
        port = ports[index] if index < len(ports) else ports[-1]
        addresses.append(query.checked_address(host.strip(), int(port or DEFAULT_PORT)))
    if not any(a.startswith(("/", "@")) for a in addresses):
        values["hostaddr"] = ",".join(addresses)
    if query.secret("password") is not None:
        values["password"] = query.secret("password")
    values["application_name"] = "ingestd"

    def quoted(value: Any) -> str:
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"

    return " ".join(f"{key}={quoted(value)}" for key, value in values.items())


def _where(query: SourceQuery) -> str:
    return f"{query.setting('host', 'localhost')}:{query.setting('port', DEFAULT_PORT)}"


def translate(query: SourceQuery, exc: adbc_driver_manager.Error | OSError) -> UnitError:
    """ADBC PostgreSQL errors by phase and SQLSTATE: a failed connect is rejected credentials
    or an unreachable server; a broken connection (class 08, 57P) is unreachable; the rest
    is the query's."""
    text = str(exc)
    lowered = text.lower()
    detail = _server_message(text)
    sqlstate = str(getattr(exc, "sqlstate", None) or "")
    if "failed to connect" in lowered:
        if any(sign in lowered for sign in _AUTH_SIGNS):
            return rejected_credentials(query, detail)
        return unreachable(query, _where(query), detail)
    if sqlstate.startswith(("08", "57P")) or "server closed the connection" in lowered:
        return unreachable(query, _where(query), detail)
    if sqlstate.startswith("28"):
        return rejected_credentials(query, detail)
    if sqlstate == "57014" or "canceling statement" in lowered:  # statement_timeout, or us
        return SourceTimeout(f"{query.label}: the server canceled the query ({detail})")
    return query_failed(query, detail)


def _server_message(text: str) -> str:
    """The server's own words from an ADBC message ('IO: [libpq] ... ERROR:  column ...')."""
    for line in text.splitlines():
        stripped = line.strip()
        for marker in ("ERROR:", "FATAL:"):
            if marker in stripped:
                return stripped[stripped.index(marker) + len(marker) :].strip()
    line = text.strip().splitlines()[0] if text.strip() else "no answer"
    return line.split("] ", 1)[-1].removeprefix("Failed to connect: ")


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    try:
        import adbc_driver_manager
        from adbc_driver_postgresql import dbapi
    except ImportError as exc:
        raise missing_driver("postgres", "adbc-driver-postgresql") from exc
    target = target_dir / "result.parquet"
    conninfo = _conninfo(query)  # refuses a host outside the egress policy, connecting nowhere
    try:
        with dbapi.connect(conninfo) as conn, conn.cursor() as cursor:

            def interrupt() -> None:
                # the statement ended meanwhile
                with contextlib.suppress(adbc_driver_manager.Error):
                    cursor.adbc_cancel()

            with interruptible(query, interrupt):
                cursor.execute(query.sql)
                reader = cursor.fetch_record_batch()
                return stage_batches(query, target, reader.schema, reader)
    except adbc_driver_manager.Error as exc:
        raise translate(query, exc) from exc
    except OSError as exc:
        # An error while streaming comes through Arrow's C stream as an OSError.
        if "[libpq]" not in str(exc):
            raise
        raise translate(query, exc) from exc
