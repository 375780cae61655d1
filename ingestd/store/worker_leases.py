"""Live leases by holder process: which process runs how many units now."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select

from ingestd.domain.states import ACTIVE_UNIT_STATES
from ingestd.store.database import Store
from ingestd.store.schema import Unit


def running_by_process(store: Store, now: datetime) -> Counter[str]:
    """Units under a live lease, counted by the lease owner's process (the part of the owner
    before its first ``/``: ``<process>/<thread>``)."""
    with store.read() as session:
        owners = session.scalars(
            select(Unit.lease_owner).where(
                Unit.state.in_([s.value for s in ACTIVE_UNIT_STATES]),
                Unit.lease_expires_at >= now,
                Unit.lease_owner.is_not(None),
            )
        ).all()
    return Counter(str(owner).split("/", 1)[0] for owner in owners)
