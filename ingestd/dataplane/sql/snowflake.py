"""Snowflake: the Snowflake Connector for Python, results as its Arrow batches.

The query is submitted asynchronously and polled, so a cancel of the unit aborts it on the
server (``SYSTEM$CANCEL_QUERY``) even before its first row; the result is then read chunk by
chunk in Snowflake's Arrow format (timestamps at microsecond precision, so every batch has one
schema): NUMBER as integers or decimals, FLOAT, BOOLEAN, DATE, TIME, TIMESTAMP_NTZ (naive),
TIMESTAMP_LTZ/TZ (UTC), BINARY as bytes, VARIANT/OBJECT/ARRAY as their JSON text.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingestd.dataplane.sql.base import (
    Extracted,
    SourceQuery,
    check_canceled,
    interruptible,
    missing_driver,
    query_failed,
    rejected_credentials,
    unreachable,
)
from ingestd.dataplane.sql.parquet_sink import stage_stream
from ingestd.errors import UnitError

if TYPE_CHECKING:
    import snowflake.connector

POLL_SECONDS = 0.5
LOGIN_TIMEOUT_SECONDS = 60
_SETTINGS = (
    "account",
    "user",
    "warehouse",
    "database",
    "schema",
    "role",
    "region",
    "host",
    "port",
    "protocol",
    "authenticator",
    "login_timeout",
    "network_timeout",
    "session_parameters",
)
_SECRETS = ("password", "token", "private_key", "private_key_file_pwd")
_AUTH_ERRNOS = range(390_100, 390_400)
"""Snowflake's login failures: wrong user or password, locked or disabled user, bad JWT,
expired token."""


def _connect_args(query: SourceQuery) -> dict[str, Any]:
    args: dict[str, Any] = {k: query.config[k] for k in _SETTINGS if k in query.config}
    args.update({k: query.secrets[k] for k in _SECRETS if query.secrets.get(k) is not None})
    args.setdefault("login_timeout", LOGIN_TIMEOUT_SECONDS)
    args["application"] = "ingestd"
    return args


def _where(query: SourceQuery) -> str:
    host = query.setting("host") or f"{query.setting('account', '?')}.snowflakecomputing.com"
    return f"{host}:{query.setting('port', 443)}"


def translate(query: SourceQuery, exc: snowflake.connector.Error) -> UnitError:
    """Snowflake errors: login failures (errno 3901xx-3903xx, HTTP 403) are rejected
    credentials; network, HTTP and service errors are unreachable; SQL errors are the query's."""
    from snowflake.connector import errors

    detail = getattr(exc, "raw_msg", None) or str(exc)
    errno = getattr(exc, "errno", None)
    if (isinstance(errno, int) and errno in _AUTH_ERRNOS) or isinstance(exc, errors.ForbiddenError):
        return rejected_credentials(query, detail)
    transient = (
        errors.OperationalError,
        errors.InterfaceError,
        errors.HttpError,
        errors.InternalServerError,
        errors.ServiceUnavailableError,
        errors.GatewayTimeoutError,
        errors.RequestTimeoutError,
        errors.BadGatewayError,
        errors.TooManyRequests,
        errors.OtherHTTPRetryableError,
        errors.RequestExceedMaxRetryError,
    )
    if isinstance(exc, transient) and not isinstance(exc, errors.ProgrammingError):
        return unreachable(query, _where(query), detail)
    return query_failed(query, detail)


def _wait(query: SourceQuery, conn: Any, qid: str) -> None:
    """Poll until the query has finished (its errors raise here)."""
    status = conn.get_query_status_throw_if_error(qid)
    while conn.is_still_running(status):
        check_canceled(query)
        time.sleep(POLL_SECONDS)
        status = conn.get_query_status_throw_if_error(qid)


def _batches(cursor: Any) -> Iterator[pa.RecordBatch]:
    for table in cursor.fetch_arrow_batches(force_microsecond_precision=True):
        yield from table.to_batches()


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    try:
        import snowflake.connector
    except ImportError as exc:
        raise missing_driver("snowflake", "snowflake-connector-python") from exc
    query.required("account", "the Snowflake account identifier")
    query.required("user", "the Snowflake user name")
    if query.setting("host"):  # the default, <account>.snowflakecomputing.com, is public
        query.check_host(str(query.setting("host")), int(query.setting("port") or 443))
    target = target_dir / "result.parquet"
    try:
        with snowflake.connector.connect(**_connect_args(query)) as conn:
            cursor = conn.cursor()
            cursor.execute_async(query.sql)
            qid = cursor.sfqid
            if qid is None:
                raise query_failed(query, "Snowflake gave the query no id")

            def interrupt() -> None:
                # finished meanwhile, or the server is gone
                with contextlib.suppress(snowflake.connector.Error):
                    conn.cursor().abort_query(qid)

            with interruptible(query, interrupt):
                _wait(query, conn, qid)
                cursor.get_results_from_sfqid(qid)
                return stage_stream(
                    query,
                    target,
                    _batches(cursor),
                    lambda: [d[0] for d in cursor.description or []],
                )
    except snowflake.connector.Error as exc:
        raise translate(query, exc) from exc
