"""Amazon Athena: PyAthena's DB-API cursor, result pages as the service's text.

Athena returns every value as text (GetQueryResults pages of 1,000 rows); ``text_rows`` types
integers, floats, decimals and booleans and keeps dates, timestamps and nested values as text.
PyAthena polls the query until it ends; canceling calls StopQueryExecution.

Settings: ``region_name`` (required), ``s3_staging_dir`` or ``work_group``, ``schema_name``,
``catalog_name``, ``endpoint_url`` (a private or test endpoint). Secrets:
``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token`` (or ``access_key``,
``secret_key``, ``token``); without them boto3's usual chain (environment, instance role)
applies.
"""

from __future__ import annotations

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
from ingestd.dataplane.sql.parquet_sink import stage_batches
from ingestd.dataplane.sql.text_rows import (
    TextColumn,
    batches,
    cursor_rows,
    decimal_type,
    schema_of,
)
from ingestd.errors import ConnectionConfigError, UnitError

CONNECT_TIMEOUT_SECONDS = 10
_SETTINGS = ("region_name", "s3_staging_dir", "work_group", "schema_name", "catalog_name")
_SECRETS = {
    "aws_access_key_id": ("aws_access_key_id", "access_key"),
    "aws_secret_access_key": ("aws_secret_access_key", "secret_key"),
    "aws_session_token": ("aws_session_token", "token"),
}
"""boto3's argument -> the secret names it may be stored under (``access_key``, ``secret_key``
and ``token`` are the secret fields of the Statsig dialect's connections)."""
_AUTH_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "AccessDeniedException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)
_INTEGERS = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_FLOATS = frozenset({"double", "float", "real"})


def _column_type(type_code: str, precision: int | None, scale: int | None) -> pa.DataType:
    name = type_code.lower()
    if name in _INTEGERS:
        return pa.int64()
    if name in _FLOATS:
        return pa.float64()
    if name == "boolean":
        return pa.bool_()
    if name == "decimal":
        return decimal_type(precision, scale)
    return pa.string()


def translate(query: SourceQuery, exc: Exception) -> UnitError:
    """PyAthena wraps boto3's errors: AWS auth error codes are rejected credentials, network
    failures and throttling are unreachable, a query that FAILED is the query's."""
    from botocore import exceptions as aws

    cause = exc.__cause__ if exc.__cause__ is not None else exc
    detail = first_line(exc)
    where = query.setting("endpoint_url") or f"athena.{query.setting('region_name')}"
    if isinstance(cause, aws.NoCredentialsError | aws.PartialCredentialsError):
        return ConnectionConfigError(
            f"{query.label}: no AWS credentials", hint="set aws_access_key_id and its secret"
        )
    if isinstance(cause, aws.ClientError):
        code = str(cause.response.get("Error", {}).get("Code", ""))
        if code in _AUTH_CODES:
            return rejected_credentials(query, first_line(cause))
        if "Throttl" in code or code.endswith("ServerException"):
            return unreachable(query, where, first_line(cause))
        return query_failed(query, first_line(cause))
    if isinstance(cause, aws.EndpointConnectionError | aws.ConnectionError | OSError):
        return unreachable(query, where, first_line(cause))
    return query_failed(query, detail)


def read(query: SourceQuery, target_dir: Path) -> Extracted:
    try:
        import botocore.config
        import botocore.exceptions
        import pyathena
        from pyathena.converter import DefaultTypeConverter
        from pyathena.util import RetryConfig
    except ImportError as exc:
        raise missing_driver("athena", "pyathena") from exc
    query.required("region_name", "the AWS region, e.g. us-east-1")

    class _Text(DefaultTypeConverter):  # type: ignore[misc]
        """Every value as Athena's text: ``text_rows`` casts whole columns at once."""

        def convert(self, type_: str, value: str | None, type_hint: str | None = None) -> Any:
            return value

    args: dict[str, Any] = {k: query.config[k] for k in _SETTINGS if k in query.config}
    for argument, names in _SECRETS.items():
        value = next((query.secrets[n] for n in names if query.secrets.get(n)), None)
        if value is not None:
            args[argument] = value
    if query.setting("endpoint_url"):
        query.check_url(str(query.setting("endpoint_url")))
        args["endpoint_url"] = query.setting("endpoint_url")
    target = target_dir / "result.parquet"
    foreign = (
        pyathena.error.Error,
        botocore.exceptions.BotoCoreError,
        botocore.exceptions.ClientError,
    )
    try:
        conn = pyathena.connect(
            **args,
            converter=_Text(),
            retry_config=RetryConfig(attempt=2),
            config=botocore.config.Config(
                connect_timeout=CONNECT_TIMEOUT_SECONDS, retries={"max_attempts": 2}
            ),
        )
        with conn, conn.cursor() as cursor:

            def interrupt() -> None:
                try:
                    if cursor.query_id:
                        cursor.cancel()
                except foreign:  # finished meanwhile, or the service is unreachable
                    pass

            with interruptible(query, interrupt):
                cursor.execute(query.sql)
                columns = [
                    TextColumn(d[0], _column_type(str(d[1]), d[4], d[5]))
                    for d in cursor.description or []
                ]
                return stage_batches(
                    query, target, schema_of(columns), batches(query, columns, cursor_rows(cursor))
                )
    except foreign as exc:
        raise translate(query, exc) from exc
