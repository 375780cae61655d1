"""IPv6 forms that carry an IPv4 address are judged as that address
(ingestd.dataplane.blobs.egress), and numeric IPv4 spellings in host names are refused like the
address they mean."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestd.dataplane.blobs.egress import EgressPolicy, embedded_ipv4
from ingestd.errors import FailureClass, FetchNotAllowed

STRICT = EgressPolicy()

ISSUE_FORMS = {
    "ipv4-compatible loopback": "::127.0.0.1",
    "ipv4-compatible metadata": "::169.254.169.254",
    "ipv4-compatible private": "::10.0.0.1",
    "ipv4-mapped loopback": "::ffff:127.0.0.1",
    "siit loopback": "::ffff:0:127.0.0.1",
    "siit metadata": "::ffff:0:169.254.169.254",
    "nat64 loopback": "64:ff9b::127.0.0.1",
    "nat64 metadata": "64:ff9b::169.254.169.254",
    "nat64 local-use private": "64:ff9b:1::10.0.0.1",
    "6to4 loopback": "2002:7f00:1::",
    "6to4 metadata": "2002:a9fe:a9fe::1",
    "6to4 private": "2002:c0a8:101::",
    "teredo client loopback": "2001:0:4136:e378:8000:63bf:80ff:fffe",  # client 127.0.0.1
    "teredo server private": "2001:0:a00:1::",  # server 10.0.0.1
    "site-local": "fec0::1",
    "site-local upper": "feff::1",
    "unspecified v6": "::",
    "loopback v6": "::1",
}


@pytest.mark.parametrize("address", list(ISSUE_FORMS.values()), ids=list(ISSUE_FORMS))
def test_each_ipv6_form_of_a_refused_address_is_refused(address: str) -> None:
    with pytest.raises(FetchNotAllowed) as raised:
        STRICT.resolve(f"[{address}]", 443)
    assert raised.value.code == "FETCH_NOT_ALLOWED"
    assert raised.value.failure_class is FailureClass.PERMANENT


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::127.0.0.1", "127.0.0.1"),
        ("::ffff:0:169.254.169.254", "169.254.169.254"),
        ("64:ff9b::8.8.8.8", "8.8.8.8"),
        ("64:ff9b:1::a00:1", "10.0.0.1"),
        ("2002:7f00:1::", "127.0.0.1"),
    ],
)
def test_the_embedded_address_is_the_one_judged(address: str, carried: str) -> None:
    assert embedded_ipv4(ipaddress.IPv6Address(address)) == (ipaddress.IPv4Address(carried),)


def test_an_embedded_public_address_passes_and_an_allowed_network_unlocks_the_embedding() -> None:
    assert STRICT.refusal(ipaddress.ip_address("64:ff9b::8.8.8.8")) is None
    assert STRICT.refusal(ipaddress.ip_address("2002:808:808::1")) is None
    loopback = EgressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
    assert loopback.refusal(ipaddress.ip_address("::127.0.0.1")) is None
    assert loopback.refusal(ipaddress.ip_address("64:ff9b::127.0.0.1")) is None
    # unlocking loopback does not unlock metadata in any embedding
    assert loopback.refusal(ipaddress.ip_address("64:ff9b::169.254.169.254")) is not None


REFUSED_V4 = st.one_of(
    st.ip_addresses(v=4, network="127.0.0.0/8"),
    st.ip_addresses(v=4, network="10.0.0.0/8"),
    st.ip_addresses(v=4, network="172.16.0.0/12"),
    st.ip_addresses(v=4, network="192.168.0.0/16"),
    st.ip_addresses(v=4, network="169.254.0.0/16"),
    st.ip_addresses(v=4, network="100.64.0.0/10"),
    st.ip_addresses(v=4, network="0.0.0.0/8"),
)


def embeddings(v4: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    n = int(v4)
    return [
        ipaddress.IPv6Address((0xFFFF << 32) | n),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address(n),  # ::a.b.c.d
        ipaddress.IPv6Address((0xFFFF << 48) | n),  # ::ffff:0:a.b.c.d
        ipaddress.IPv6Address((0x64FF9B << 96) | n),  # 64:ff9b::a.b.c.d
        ipaddress.IPv6Address((0x64FF9B0001 << 80) | n),  # 64:ff9b:1::a.b.c.d
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80)),  # 2002:aabb:ccdd::
        ipaddress.IPv6Address((0x20010000 << 96) | (n << 64)),  # Teredo server
        ipaddress.IPv6Address((0x20010000 << 96) | (n ^ 0xFFFFFFFF)),  # Teredo client
    ]


@given(REFUSED_V4)
def test_every_embedding_of_a_refused_ipv4_address_is_refused(v4: ipaddress.IPv4Address) -> None:
    if int(v4) <= 1:
        return  # ::, ::1 are themselves (refused below by their own rule)
    assert STRICT.refusal(v4) is not None
    for v6 in embeddings(v4):
        assert STRICT.refusal(v6) is not None, v6


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0", "0.0.0.0", "[::]", "017700000001"]
)
def test_numeric_ipv4_spellings_are_refused(host: str) -> None:
    with pytest.raises(FetchNotAllowed):
        STRICT.resolve(host, 80)


def test_the_refusal_names_what_was_refused_and_the_setting() -> None:
    with pytest.raises(FetchNotAllowed) as raised:
        STRICT.resolve("[::169.254.169.254]", 5432, what="connect to")
    assert "refused to connect to [::169.254.169.254]" in raised.value.message
    assert "INGESTD_FETCH_ALLOWED_NETWORKS" in raised.value.message
