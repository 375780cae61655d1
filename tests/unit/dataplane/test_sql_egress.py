"""SQL sources' hosts go through the egress policy (ingestd.dataplane.sql): a postgres, redshift
or mysql connection to a loopback, private or metadata address is refused before any connection
attempt, with one error whatever the port's state (no port-scan oracle)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.dataplane.sql import extract
from ingestd.errors import FailureClass, FetchNotAllowed, UnitError

KINDS = ("postgres", "redshift", "mysql")
REFUSED_HOSTS = {
    "loopback": "127.0.0.1",
    "private": "10.0.0.1",
    "metadata": "169.254.169.254",
    "mapped loopback": "::ffff:127.0.0.1",
    "bracketed mapped loopback": "[::ffff:127.0.0.1]",
    "compatible metadata": "::169.254.169.254",
    "nat64 private": "64:ff9b::10.0.0.1",
    "decimal loopback": "2130706433",
    "localhost": "localhost",
    "unix socket": "/var/run/postgresql",
}


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that is open on loopback: a connection attempt would show up in its queue."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        yield server


def refused(kind: str, host: str, port: int, tmp_path: Path) -> FetchNotAllowed:
    config = {"host": host, "port": port, "user": "u", "dbname": "d", "database": "d"}
    with pytest.raises(FetchNotAllowed) as raised:
        extract(kind, "warehouse", config, {"password": "s3cret"}, "SELECT 1", tmp_path, ())
    return raised.value


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("host", list(REFUSED_HOSTS.values()), ids=list(REFUSED_HOSTS))
def test_a_non_public_host_is_refused(tmp_path: Path, kind: str, host: str) -> None:
    error = refused(kind, host, 5432, tmp_path)
    assert error.code == "FETCH_NOT_ALLOWED"
    assert error.failure_class is FailureClass.PERMANENT
    assert f"connect connection 'warehouse' ({kind}) to" in error.message
    assert "INGESTD_FETCH_ALLOWED_NETWORKS" in error.message
    assert "s3cret" not in str(error)


@pytest.mark.parametrize("kind", KINDS)
def test_no_connection_is_attempted_and_open_and_closed_ports_look_the_same(
    tmp_path: Path, kind: str, listener: socket.socket
) -> None:
    open_port = listener.getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # bound, never listening: closed
        on_open = refused(kind, "127.0.0.1", open_port, tmp_path)
        on_closed = refused(kind, "127.0.0.1", closed_port, tmp_path)
    assert (on_open.code, on_open.message) == (on_closed.code, on_closed.message)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody knocked


@pytest.mark.parametrize("kind", KINDS)
def test_an_allowed_network_lets_the_connection_through_to_the_driver(
    tmp_path: Path, kind: str, listener: socket.socket
) -> None:
    """With loopback allowed the driver does connect (to the checked address); the listener
    hangs up at once, so the driver's own error follows, not FETCH_NOT_ALLOWED."""
    port = listener.getsockname()[1]
    knocked = threading.Event()

    def hang_up() -> None:
        listener.setblocking(True)
        listener.settimeout(10)
        connection, _ = listener.accept()
        knocked.set()
        connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    config = {"host": "127.0.0.1", "port": port, "user": "u", "connect_timeout": 2}
    allowed = EgressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
    with pytest.raises(UnitError) as raised:
        extract(kind, "w", config, {}, "SELECT 1", tmp_path, (), egress=allowed)
    assert not isinstance(raised.value, FetchNotAllowed)
    thread.join(10)
    assert knocked.is_set()


OTHER_DRIVERS = {
    "snowflake host": ("snowflake", {"account": "acme", "user": "u", "host": "127.0.0.1"}),
    "databricks host": ("databricks", {"server_hostname": "10.0.0.1", "http_path": "/p"}),
    "synapse host": ("synapse", {"host": "169.254.169.254", "user": "sa"}),
    "athena endpoint": ("athena", {"region_name": "us-east-1", "endpoint_url": "http://[::1]:1"}),
    "bigquery endpoint": (
        "bigquery",
        {"project": "p", "api_endpoint": "http://[64:ff9b::127.0.0.1]:1"},
    ),
}


@pytest.mark.parametrize("case", list(OTHER_DRIVERS), ids=list(OTHER_DRIVERS))
def test_other_drivers_user_given_hosts_and_endpoints_are_checked(
    tmp_path: Path, case: str
) -> None:
    kind, config = OTHER_DRIVERS[case]
    with pytest.raises(UnitError) as raised:
        extract(kind, "w", config, {"password": "s3cret"}, "SELECT 1", tmp_path, ())
    if raised.value.code == "CONNECTION_CONFIG_ERROR" and "not installed" in raised.value.message:
        pytest.skip(raised.value.message)
    assert raised.value.code == "FETCH_NOT_ALLOWED", raised.value.message
    assert "s3cret" not in str(raised.value)
