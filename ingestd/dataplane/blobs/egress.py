"""Which network addresses blob downloads may connect to (DESIGN.md "Security").

Contract:

* A host is resolved once and every address it resolves to is checked; the download then
  connects to a checked address (never resolves again), so a name that changes its answer
  between the check and the connection (DNS rebinding) cannot reach a refused address.
* Public (globally routable) addresses are allowed.
* Loopback, private, shared (CGNAT), unspecified, multicast and reserved addresses are refused
  unless an allowed network (``INGESTD_FETCH_ALLOWED_NETWORKS``) contains them.
* Link-local and cloud metadata addresses are refused even then, unless an allowed network
  lies entirely inside the sensitive range (``169.254.169.254/32`` or ``169.254.0.0/16``
  unlock it; ``0.0.0.0/0`` does not).
* IPv6 addresses that carry an IPv4 address are judged as the IPv4 address they carry:
  IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d`` (``::/96`` but ``::`` and
  ``::1``), SIIT ``::ffff:0:a.b.c.d`` (``::ffff:0:0:0/96``), NAT64 ``64:ff9b::/96`` and
  ``64:ff9b:1::/48``, 6to4 ``2002::/16`` and Teredo ``2001::/32`` (its server and its
  de-obfuscated client). A router that translates them delivers to that IPv4 address.
* Site-local ``fec0::/10`` (deprecated, routed like private space) is refused like private.
* The same policy guards blob URLs, the hosts of SQL sources and the PostgreSQL destination.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from ingestd.errors import ConnectionFailure, FetchNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SENSITIVE_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local; AWS, GCP, Azure IMDS at .169.254
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS IMDS over IPv6
    ipaddress.ip_network("168.63.129.16/32"),  # Azure WireServer (a public address)
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
)
"""Refused unless an allowed network lies inside one of them."""


_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (empty when it carries none)."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return (low32,)
    if address in _SIIT or any(address in n for n in _NAT64):
        return (low32,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    return ()


def _judged(address: IPAddress) -> tuple[IPAddress, ...]:
    """The addresses ``address`` is judged as: itself, or the IPv4 addresses it embeds."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded:
            return embedded
    return (address,)


@dataclass(frozen=True)
class EgressPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()

    def refusal(self, raw: IPAddress) -> str | None:
        """Why ``raw`` may not be connected to, or None if it may (an IPv6 address that
        embeds IPv4 addresses may be connected to only if every one of them may)."""
        for address in _judged(raw):
            reason = self._refusal(raw, address)
            if reason is not None:
                return reason
        return None

    def _refusal(self, raw: IPAddress, address: IPAddress) -> str | None:
        allowed = [n for n in self.allowed_networks if n.version == address.version]
        for sensitive in SENSITIVE_NETWORKS:
            if sensitive.version == address.version and address in sensitive:
                if any(address in n and n.subnet_of(sensitive) for n in allowed):  # type: ignore[arg-type]
                    return None
                return (
                    f"{raw} is a link-local or cloud metadata address "
                    "(allowed only when INGESTD_FETCH_ALLOWED_NETWORKS lists it explicitly)"
                )
        if (
            address.is_global
            and not address.is_multicast
            and not (address.version == 6 and address in _SITE_LOCAL)
        ):
            return None
        if any(address in n for n in allowed):
            return None
        return (
            f"{raw} is a loopback, private or reserved address "
            "(add its network to INGESTD_FETCH_ALLOWED_NETWORKS to allow it)"
        )

    def check(self, address: IPAddress, host: str, what: str = "fetch from") -> None:
        """Raise FETCH_NOT_ALLOWED unless ``address`` may be connected to. No connection is
        ever attempted to a refused address, so the error says nothing about its ports."""
        reason = self.refusal(address)
        if reason is not None:
            raise FetchNotAllowed(
                f"refused to {what} {host}: {reason}",
                hint="ingestd connects only to hosts its egress policy allows",
            )

    def resolve(self, host: str, port: int, what: str = "fetch from") -> list[IPAddress]:
        """Every address of ``host``, each checked; raises ``FetchNotAllowed`` if any is refused
        (a name with one refused address is refused whole) and ``ConnectionFailure`` if the
        name does not resolve."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            self.check(literal, host, what)
            return [literal]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ConnectionFailure(f"cannot resolve host {host!r}: {exc}") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise ConnectionFailure(f"host {host!r} resolves to no address")
        for address in addresses:
            self.check(address, host, what)
        return addresses
