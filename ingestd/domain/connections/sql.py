"""Bodies of the SQL connection kinds: the fields each reader in ``dataplane/sql`` really uses.

Field names are the ones the drivers take (docs/sql-sources.md "Connection settings"); where
the Statsig dialect or earlier versions used another name, it is accepted as an alias
(``dbname`` for ``database``, Databricks' ``token``/``host``/``path``).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator

from ingestd.domain.connections.base import ConnectionBody, EndpointUrl, Host

SessionValue = str | int | float | bool


class PostgresConnection(ConnectionBody):
    """PostgreSQL (libpq keyword settings)."""

    kind: ClassVar[str] = "postgres"
    host: Host
    port: int | str | None = None
    """A number, or one per host for a comma-separated host list (``5432,5433``)."""
    database: str = Field(min_length=1, validation_alias=AliasChoices("database", "dbname"))
    user: str = Field(min_length=1)
    password: SecretStr | None = None
    sslmode: str | None = None
    connect_timeout: int | None = Field(default=None, ge=1)
    options: str | None = None


class RedshiftConnection(PostgresConnection):
    """Amazon Redshift (the PostgreSQL wire protocol)."""

    kind: ClassVar[str] = "redshift"


class MySQLConnection(ConnectionBody):
    """MySQL and MariaDB (PyMySQL)."""

    kind: ClassVar[str] = "mysql"
    host: Host
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = Field(default=None, validation_alias=AliasChoices("database", "dbname"))
    user: str = Field(min_length=1)
    password: SecretStr | None = None
    connect_timeout: int | None = Field(default=None, ge=1)
    ssl_ca: str | None = None


class SQLiteConnection(ConnectionBody):
    """A SQLite database file the project may read, opened read-only."""

    kind: ClassVar[str] = "sqlite"
    path: str = Field(min_length=1)


class DuckDBConnection(ConnectionBody):
    """A DuckDB database file the project may read, opened read-only and sandboxed."""

    kind: ClassVar[str] = "duckdb"
    path: str = Field(min_length=1)


class SnowflakeConnection(ConnectionBody):
    """Snowflake (snowflake-connector-python's ``connect`` arguments)."""

    kind: ClassVar[str] = "snowflake"
    account: str = Field(min_length=1)
    user: str = Field(min_length=1)
    warehouse: str | None = None
    database: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    role: str | None = None
    region: str | None = None
    host: Host | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: str | None = None
    authenticator: str | None = None
    login_timeout: int | None = Field(default=None, ge=1)
    network_timeout: int | None = Field(default=None, ge=1)
    session_parameters: dict[str, SessionValue] | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    private_key: SecretStr | None = None
    private_key_file_pwd: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("private_key_file_pwd", "private_key_password")
    )


class BigQueryConnection(ConnectionBody):
    """Google BigQuery; without ``credentials_json``, application default credentials."""

    kind: ClassVar[str] = "bigquery"
    project: str = Field(min_length=1)
    location: str | None = None
    api_endpoint: EndpointUrl | None = None
    retry_seconds: float | None = Field(default=None, gt=0)
    credentials_json: SecretStr | None = None
    """A service account key: its JSON text (or the JSON object itself)."""

    @field_validator("credentials_json", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict) else value


class DatabricksConnection(ConnectionBody):
    """Databricks SQL warehouse. The vendor's body (Statsig §1.4 #6: ``token``, ``host``,
    ``path``, ``deltaSharingCredentials``, ``verified``) or the connector's names."""

    kind: ClassVar[str] = "databricks"
    host: EndpointUrl = Field(validation_alias=AliasChoices("host", "server_hostname"))
    path: str = Field(min_length=1, validation_alias=AliasChoices("path", "http_path"))
    token: SecretStr = Field(validation_alias=AliasChoices("token", "access_token"))
    deltaSharingCredentials: SecretStr | None = None
    verified: bool | None = None
    catalog: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    port: int | str | None = None
    socket_timeout: int | None = Field(default=None, ge=1)


class AthenaConnection(ConnectionBody):
    """Amazon Athena (PyAthena); without keys, boto3's default credential chain."""

    kind: ClassVar[str] = "athena"
    region_name: str = Field(min_length=1)
    s3_staging_dir: str | None = None
    work_group: str | None = None
    schema_name: str | None = None
    catalog_name: str | None = None
    endpoint_url: EndpointUrl | None = None
    aws_access_key_id: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("aws_access_key_id", "access_key")
    )
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("aws_secret_access_key", "secret_key")
    )
    aws_session_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("aws_session_token", "token")
    )


class SynapseConnection(ConnectionBody):
    """Azure Synapse / SQL Server (mssql-python)."""

    kind: ClassVar[str] = "synapse"
    host: Host
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    authentication: str | None = None
    encrypt: bool | None = None
    trust_server_certificate: bool | None = None
    login_timeout: int | None = Field(default=None, ge=1)
