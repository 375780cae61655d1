"""The optional drivers without their cloud services: a missing driver names its extra; each
installed driver meets a closed port (CONNECTION_ERROR, retried) and, where a local stand-in
can answer in the service's protocol, refused credentials and failing SQL. No message ever
carries a secret of the connection."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.sql import extract
from ingestd.domain.file_access import NO_FILES, ProjectFiles
from ingestd.errors import ConnectionConfigError, FailureClass, UnitError
from tests.integration.http_stub import http_stub
from tests.integration.sql_runs import FAKESNOW_WARNINGS, fakesnow_server

LOCAL = EgressPolicy((ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")))
"""The stub servers listen on loopback, which the default egress policy refuses."""

SECRET = "s3cr3t-value-never-shown"

# kind -> (extra, modules whose absence means the driver is missing)
EXTRAS = {
    "postgres": ("postgres", ["adbc_driver_postgresql"]),
    "redshift": ("postgres", ["adbc_driver_postgresql"]),
    "mysql": ("mysql", ["pymysql"]),
    "snowflake": ("snowflake", ["snowflake.connector"]),
    "bigquery": ("bigquery", ["google.cloud"]),
    "databricks": ("databricks", ["databricks"]),
    "athena": ("athena", ["pyathena"]),
    "synapse": ("synapse", ["mssql_python"]),
}


def fail(kind: str, config: dict[str, Any], secrets: dict[str, Any], tmp_path: Path) -> UnitError:
    with pytest.raises(UnitError) as raised:
        extract(
            kind,
            kind,
            config,
            secrets,
            "SELECT 1 AS x",
            tmp_path / "staged",
            ProjectFiles("test", (tmp_path,)),
            None,
            LOCAL,
        )
    error = raised.value
    assert SECRET not in str(error)
    return error


@pytest.mark.parametrize("kind", sorted(EXTRAS))
def test_a_missing_driver_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    extra, modules = EXTRAS[kind]
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    error = fail(kind, {}, {}, tmp_path)
    assert isinstance(error, ConnectionConfigError)
    assert error.message == f"the {extra} driver is not installed: pip install 'ingestd[{extra}]'"
    assert error.failure_class is FailureClass.PERMANENT


CLOSED_PORT: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "snowflake": (
        {
            "account": "acme",
            "user": "u",
            "host": "127.0.0.1",
            "port": 1,
            "protocol": "http",
            "login_timeout": 5,
        },
        {"password": SECRET},
    ),
    "databricks": (
        {"server_hostname": "127.0.0.1", "port": 1, "http_path": "/sql/1.0/warehouses/w"},
        {"access_token": SECRET},
    ),
    "athena": (
        {
            "region_name": "us-east-1",
            "endpoint_url": "http://127.0.0.1:1",
            "s3_staging_dir": "s3://results/ingestd/",
        },
        {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": SECRET},
    ),
    "synapse": (
        {"host": "127.0.0.1", "port": 1, "user": "sa", "login_timeout": 3},
        {"password": SECRET},
    ),
}


@pytest.mark.parametrize("kind", sorted(CLOSED_PORT))
def test_a_closed_port_is_a_transient_connection_error(tmp_path: Path, kind: str) -> None:
    config, secrets = CLOSED_PORT[kind]
    error = fail(kind, config, secrets, tmp_path)
    if kind == "synapse" and isinstance(error, ConnectionConfigError):
        pytest.skip(error.message)  # the bundled ODBC driver needs libltdl7 on this machine
    assert (error.code, error.failure_class) == ("CONNECTION_ERROR", FailureClass.TRANSIENT)
    assert f"connection {kind!r}" in error.message


@pytest.mark.parametrize(
    ("kind", "config", "setting"),
    [
        ("snowflake", {"user": "u"}, "account"),
        ("bigquery", {}, "project"),
        ("databricks", {"http_path": "/p"}, "server_hostname"),
        ("athena", {}, "region_name"),
        ("synapse", {}, "host"),
    ],
)
def test_a_missing_setting_is_a_config_error(
    tmp_path: Path, kind: str, config: dict[str, Any], setting: str
) -> None:
    error = fail(kind, config, {}, tmp_path)
    assert isinstance(error, ConnectionConfigError)
    assert f"config.{setting}" in error.message


# -- Snowflake: fakesnow speaks its REST protocol; a stub refuses the login ----------------


@FAKESNOW_WARNINGS
def test_snowflake_sql_errors_are_query_errors(tmp_path: Path) -> None:
    with fakesnow_server() as (settings, secrets), pytest.raises(UnitError) as raised:
        extract(
            "snowflake",
            "sf",
            settings,
            secrets,
            "SELECT nope FROM missing_table",
            tmp_path,
            NO_FILES,
            egress=LOCAL,
        )
    error = raised.value
    assert (error.code, error.failure_class) == ("QUERY_ERROR", FailureClass.PERMANENT)
    assert "connection 'sf'" in str(error)
    assert "statement: SELECT nope FROM missing_table" in str(error)


def test_snowflake_refused_credentials(tmp_path: Path) -> None:
    refused = {
        "success": False,
        "code": "390100",
        "message": "Incorrect username or password was specified.",
        "data": {"nextAction": "RETRY_LOGIN", "authnMethod": "USERNAME_PASSWORD"},
    }
    with http_stub({"/session/v1/login-request": (200, refused)}) as url:
        port = int(url.rsplit(":", 1)[1])
        config = {
            "account": "acme",
            "user": "u",
            "host": "127.0.0.1",
            "port": port,
            "protocol": "http",
            "login_timeout": 10,
        }
        error = fail("snowflake", config, {"password": SECRET}, tmp_path)
    assert (error.code, error.failure_class) == ("AUTHENTICATION_ERROR", FailureClass.PERMANENT)


# -- BigQuery: a stub token endpoint and API answer as Google's do --------------------------


@pytest.fixture
def service_account() -> dict[str, Any]:
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    from cryptography.hazmat.primitives import serialization

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "acme",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "ingestd@acme.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:1/token",
    }


def bigquery(
    tmp_path: Path, account: dict[str, Any], token_uri: str, api: str = "http://127.0.0.1:1"
) -> UnitError:
    secrets = {"credentials_json": json.dumps({**account, "token_uri": token_uri})}
    config = {"project": "acme", "api_endpoint": api, "retry_seconds": 2}
    return fail("bigquery", config, secrets, tmp_path)


def test_bigquery_unreachable_api(tmp_path: Path, service_account: dict[str, Any]) -> None:
    token = {"access_token": "ya29.token", "expires_in": 3600, "token_type": "Bearer"}
    with http_stub({"/token": (200, token)}) as url:
        error = bigquery(tmp_path, service_account, f"{url}/token", api="http://127.0.0.1:1")
    assert (error.code, error.failure_class) == ("CONNECTION_ERROR", FailureClass.TRANSIENT)


def test_bigquery_refused_key(tmp_path: Path, service_account: dict[str, Any]) -> None:
    refused = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    with http_stub({"/token": (400, refused)}) as url:
        error = bigquery(tmp_path, service_account, f"{url}/token")
    assert (error.code, error.failure_class) == ("AUTHENTICATION_ERROR", FailureClass.PERMANENT)
    assert SECRET not in str(error) and "PRIVATE KEY" not in str(error)


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (400, "invalidQuery", "QUERY_ERROR"),
        (404, "notFound", "QUERY_ERROR"),
        (401, "unauthorized", "AUTHENTICATION_ERROR"),
        (403, "accessDenied", "AUTHENTICATION_ERROR"),
        (403, "rateLimitExceeded", "CONNECTION_ERROR"),
        (503, "backendError", "CONNECTION_ERROR"),
    ],
)
def test_bigquery_api_errors(
    tmp_path: Path, service_account: dict[str, Any], status: int, reason: str, code: str
) -> None:
    token = {"access_token": "ya29.token", "expires_in": 3600, "token_type": "Bearer"}
    failure = {
        "error": {
            "code": status,
            "message": f"{reason}: Syntax error: Unexpected identifier",
            "errors": [{"reason": reason, "message": "Syntax error: Unexpected identifier"}],
        }
    }
    with http_stub({"/token": (200, token), "/bigquery/v2/": (status, failure)}) as url:
        error = bigquery(tmp_path, service_account, f"{url}/token", api=url)
    assert error.code == code
