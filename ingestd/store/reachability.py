"""Whether the metadata database answers: the one query ``/healthz`` and readiness ask."""

from __future__ import annotations

from sqlalchemy import text

from ingestd.store.database import Store


def ping(store: Store) -> None:
    """Return when the metadata database answers a trivial query; raise the driver's error
    when it does not (the callers decide whether that is a failed check or a 500)."""
    with store.read() as session:
        session.execute(text("SELECT 1"))
