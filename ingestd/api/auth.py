"""Finding the caller: an API key (or a minted bearer token) to a project principal."""

from __future__ import annotations

from ingestd.control.access import Principal
from ingestd.control.services import Services


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(services: Services, raw_key: str | None) -> Principal:
    """The principal of a key; raises ``Unauthenticated``."""
    return services.access.authenticate(raw_key)
