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
* IPv4-mapped IPv6 addresses (``::ffff:127.0.0.1``) are judged as the IPv4 address they carry.
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


def _plain(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class EgressPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()

    def refusal(self, raw: IPAddress) -> str | None:
        """Why ``raw`` may not be connected to, or None if it may."""
        address = _plain(raw)
        allowed = [n for n in self.allowed_networks if n.version == address.version]
        for sensitive in SENSITIVE_NETWORKS:
            if sensitive.version == address.version and address in sensitive:
                if any(address in n and n.subnet_of(sensitive) for n in allowed):  # type: ignore[arg-type]
                    return None
                return (
                    f"{raw} is a link-local or cloud metadata address "
                    "(allowed only when INGESTD_FETCH_ALLOWED_NETWORKS lists it explicitly)"
                )
        if address.is_global and not address.is_multicast:
            return None
        if any(address in n for n in allowed):
            return None
        return (
            f"{raw} is a loopback, private or reserved address "
            "(add its network to INGESTD_FETCH_ALLOWED_NETWORKS to allow it)"
        )

    def check(self, address: IPAddress, host: str) -> None:
        reason = self.refusal(address)
        if reason is not None:
            raise FetchNotAllowed(
                f"refused to fetch from {host}: {reason}",
                hint="blob URLs must point at storage ingestd is allowed to reach",
            )

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host``, each checked; raises ``FetchNotAllowed`` if any is refused
        (a name with one refused address is refused whole) and ``ConnectionFailure`` if the
        name does not resolve."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            self.check(literal, host)
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
            self.check(address, host)
        return addresses
