"""The PostgreSQL destination's hosts, judged by the egress policy before ingestd connects.

``INGESTD_DESTINATION_URL`` is the operator's setting, but it is judged like a tenant's host
(issue #11 item 5): a destination on a loopback or private address is opened only when
``INGESTD_FETCH_ALLOWED_NETWORKS`` lists its network, and a link-local or cloud metadata
address only when that setting names it exactly. A local socket path (``host=/var/run/...``)
is judged as loopback.
"""

from __future__ import annotations

import ipaddress

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ingestd.dataplane.blobs.egress import EgressPolicy
from ingestd.errors import ConnectionConfigError

DEFAULT_PORT = 5432
_LOOPBACK = ipaddress.ip_address("127.0.0.1")


def check_destination(conninfo: str, policy: EgressPolicy) -> None:
    """Raise ``FetchNotAllowed`` unless every host of the libpq URL ``conninfo`` (and every
    address it resolves to) may be connected to; ``ConnectionConfigError`` if it is not a
    PostgreSQL URL libpq can read."""
    try:
        values = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise ConnectionConfigError(
            "INGESTD_DESTINATION_URL is not a PostgreSQL URL libpq can read"
        ) from exc
    hosts = str(values.get("hostaddr") or values.get("host") or "localhost").split(",")
    ports = str(values.get("port") or DEFAULT_PORT).split(",")
    for index, host in enumerate(h.strip() for h in hosts):
        port = ports[index] if index < len(ports) else ports[-1]
        if host.startswith(("/", "@")):  # a local socket: the same machine
            policy.check(_LOOPBACK, host, "connect to the destination at")
        else:
            policy.resolve(host, int(port or DEFAULT_PORT), "connect to the destination at")
