"""Typed connection bodies: one pydantic model per kind of connection.

Every body refuses unknown fields, enforces its required ones and declares each field secret
(``SecretStr``) or not. ``parse_connection`` is how every front end turns what a user wrote
into a body; its ``InvalidInput`` names each wrong field and never repeats a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ingestd.domain.connections.base import ConnectionBody
from ingestd.domain.connections.sql import (
    AthenaConnection,
    BigQueryConnection,
    DatabricksConnection,
    DuckDBConnection,
    MySQLConnection,
    PostgresConnection,
    RedshiftConnection,
    SnowflakeConnection,
    SQLiteConnection,
    SynapseConnection,
)
from ingestd.domain.connections.stores import (
    ADLSConnection,
    FileConnection,
    GCSConnection,
    S3Connection,
)
from ingestd.errors import InvalidInput

BODIES: Mapping[str, type[ConnectionBody]] = {
    model.kind: model
    for model in (
        FileConnection,
        S3Connection,
        GCSConnection,
        ADLSConnection,
        PostgresConnection,
        RedshiftConnection,
        MySQLConnection,
        SQLiteConnection,
        DuckDBConnection,
        SnowflakeConnection,
        BigQueryConnection,
        DatabricksConnection,
        AthenaConnection,
        SynapseConnection,
    )
}
"""Connection kind -> its body."""
CONNECTION_KINDS = frozenset(BODIES)


def _explained(kind: str, exc: ValidationError) -> InvalidInput:
    # Built from loc and msg only: pydantic's own str() would repeat the input (a secret).
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "body"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a field of this connection type"
        elif error["type"] == "missing":
            message = "is required"
        parts.append(f"{where}: {message}")
    model = BODIES[kind]
    fields = ", ".join(sorted(f.alias or n for n, f in model.model_fields.items()))
    return InvalidInput(
        f"{kind} connection: {'; '.join(parts)}",
        hint=f"the fields of a {kind} connection: {fields}",
    )


def parse_connection(kind: str, body: Mapping[str, Any]) -> ConnectionBody:
    """The typed body of a ``kind`` connection, or InvalidInput naming every wrong field."""
    model = BODIES.get(kind)
    if model is None:
        raise InvalidInput(
            f"connection kind {kind!r} is not supported",
            hint=f"use one of {', '.join(sorted(BODIES))}",
        )
    if not isinstance(body, Mapping):
        raise InvalidInput(f"{kind} connection: the body must be a JSON object")
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        raise _explained(kind, exc) from None


def connection_body(
    kind: str, settings: Mapping[str, Any], secrets: Mapping[str, Any] | None = None
) -> ConnectionBody:
    """A body from its settings and secrets given apart (the CLI's ``--config``/``--secret``,
    a stored connection): the model, not the caller, decides which fields are secret."""
    overlap = set(settings) & set(secrets or {})
    if overlap:
        raise InvalidInput(f"{kind} connection: {sorted(overlap)} given both as setting and secret")
    return parse_connection(kind, {**settings, **(secrets or {})})


__all__ = [
    "BODIES",
    "CONNECTION_KINDS",
    "ADLSConnection",
    "AthenaConnection",
    "BigQueryConnection",
    "ConnectionBody",
    "DatabricksConnection",
    "DuckDBConnection",
    "FileConnection",
    "GCSConnection",
    "MySQLConnection",
    "PostgresConnection",
    "RedshiftConnection",
    "S3Connection",
    "SQLiteConnection",
    "SnowflakeConnection",
    "SynapseConnection",
    "connection_body",
    "parse_connection",
]
