"""Databricks host settings with a port, a scheme or a path: split, never INTERNAL_ERROR."""

from __future__ import annotations

from typing import Any

import pytest

from ingestd.dataplane.sql.base import SourceQuery
from ingestd.dataplane.sql.databricks import WorkspaceAddress, _connect_args
from ingestd.errors import ConnectionConfigError


def _query(**config: Any) -> SourceQuery:
    return SourceQuery(
        kind="databricks",
        connection="dbx",
        config=config,
        secrets={"access_token": "dapi-secret"},
        sql="SELECT 1",
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            "adb-1.2.azuredatabricks.net",
            WorkspaceAddress("adb-1.2.azuredatabricks.net", None, None),
        ),
        ("adb-1.net:443", WorkspaceAddress("adb-1.net", 443, None)),
        ("https://adb-1.net:443/", WorkspaceAddress("adb-1.net", 443, None)),
        ("https://adb-1.net:8443", WorkspaceAddress("adb-1.net", 8443, None)),
        (
            "adb-1.net:443/sql/1.0/warehouses/abc",
            WorkspaceAddress("adb-1.net", 443, "/sql/1.0/warehouses/abc"),
        ),
        (" HTTPS://adb-1.net/ ", WorkspaceAddress("adb-1.net", None, None)),
    ],
)
def test_host_is_split_into_host_port_and_path(host: str, expected: WorkspaceAddress) -> None:
    args = _connect_args(_query(host=host, http_path="/sql/1.0/warehouses/abc"))
    assert args["server_hostname"] == expected.host
    assert args.get("_port") == expected.port
    assert args["http_path"] == "/sql/1.0/warehouses/abc"


def test_path_in_the_host_is_the_http_path_when_none_is_set() -> None:
    args = _connect_args(_query(server_hostname="adb-1.net:8443/sql/1.0/warehouses/w"))
    assert (args["server_hostname"], args["_port"], args["http_path"]) == (
        "adb-1.net",
        8443,
        "/sql/1.0/warehouses/w",
    )


def test_port_setting_alone_is_passed() -> None:
    args = _connect_args(_query(host="adb-1.net", path="/p", port="8443"))
    assert args["_port"] == 8443


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"host": "adb-1.net:abc", "http_path": "/p"}, "config.host"),
        ({"host": "adb-1.net:0", "http_path": "/p"}, "config.host"),
        ({"host": "adb-1.net:70000", "http_path": "/p"}, "config.host"),
        ({"server_hostname": "http://adb-1.net", "http_path": "/p"}, "config.server_hostname"),
        ({"host": "adb 1.net", "http_path": "/p"}, "config.host"),
        ({"host": "https://:443/", "http_path": "/p"}, "config.host"),
        ({"host": "adb-1.net:443", "http_path": "/p", "port": 8443}, "config.host"),
        ({"host": "adb-1.net", "http_path": "/p", "port": "x"}, "config.port"),
        ({"host": "adb-1.net:443/a", "http_path": "/b"}, "config.host"),
    ],
)
def test_unusable_host_is_a_config_error_naming_the_field(
    config: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConnectionConfigError) as caught:
        _connect_args(_query(**config))
    assert caught.value.code == "CONNECTION_CONFIG_ERROR"
    assert field in str(caught.value)
    assert "dapi-secret" not in str(caught.value)


def test_unreachable_names_the_parsed_host_and_port() -> None:
    from databricks.sql import exc as dbx

    from ingestd.dataplane.sql.databricks import translate

    query = _query(host="https://adb-1.net:8443/", http_path="/p")
    error = translate(query, dbx.RequestError("connection refused"))

    assert error.code == "CONNECTION_ERROR"
    assert "cannot reach adb-1.net:8443 " in error.message
