"""Which addresses blob downloads may reach (ingestd.dataplane.blobs.egress): no network needed."""

from __future__ import annotations

import ipaddress

import pytest

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.errors import FetchNotAllowed


def policy(*networks: str) -> EgressPolicy:
    return EgressPolicy(tuple(ipaddress.ip_network(n) for n in networks))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "fc00::1",
        "224.0.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "fd00:ec2::254",
        "168.63.129.16",
        "100.100.100.200",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_and_metadata_addresses_are_refused_by_default(address: str) -> None:
    assert policy().refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "52.239.0.1", "2606:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert policy().refusal(ipaddress.ip_address(address)) is None


def test_allowed_networks_unlock_loopback_and_private_ranges_only() -> None:
    allowed = policy("127.0.0.0/8", "10.0.0.0/8")
    assert allowed.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert allowed.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) is None
    assert allowed.refusal(ipaddress.ip_address("10.9.9.9")) is None
    assert allowed.refusal(ipaddress.ip_address("192.168.0.1")) is not None
    assert allowed.refusal(ipaddress.ip_address("::1")) is not None


@pytest.mark.parametrize("networks", [("0.0.0.0/0",), ("169.0.0.0/8",), ("160.0.0.0/3",)])
def test_metadata_addresses_stay_refused_under_broad_allowances(networks: tuple[str]) -> None:
    refusal = policy(*networks).refusal(ipaddress.ip_address("169.254.169.254"))
    assert refusal is not None and "metadata" in refusal


@pytest.mark.parametrize("network", ["169.254.169.254/32", "169.254.0.0/16"])
def test_metadata_addresses_can_be_allowed_explicitly(network: str) -> None:
    assert policy(network).refusal(ipaddress.ip_address("169.254.169.254")) is None


def test_resolving_checks_every_address_of_a_name_without_dns_for_literals() -> None:
    with pytest.raises(FetchNotAllowed, match=r"10\.0\.0\.7"):
        policy().resolve("10.0.0.7", 80)
    with pytest.raises(FetchNotAllowed, match="localhost"):
        policy().resolve("localhost", 80)  # resolved from /etc/hosts, never the network
    assert [str(a) for a in policy("::1/128").resolve("[::1]", 80)] == ["::1"]
