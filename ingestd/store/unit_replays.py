"""SQL of the unit a quarantine replay loads again: what it loaded, and its counts moving from
errors to what the replay loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update

from ingestd.domain.counts import Counts
from ingestd.domain.run_views import FileView
from ingestd.domain.unit_specs import UnitSpec
from ingestd.store.database import Store
from ingestd.store.schema import Unit, UnitFile
from ingestd.store.unit_records import spec_of


@dataclass(frozen=True)
class ReplayedUnit:
    id: str
    run_id: str
    day: date | None
    source_name: str | None
    """The source it loaded from, if any (its current mapping is the replay's)."""
    spec: UnitSpec


def replayed_unit(store: Store, unit_id: str) -> ReplayedUnit | None:
    with store.read() as session:
        unit = session.get(Unit, unit_id)
        if unit is None:
            return None
        return ReplayedUnit(unit.id, unit.run_id, unit.day, unit.source_name, spec_of(unit))


def move_replayed_counts(
    store: Store, unit_id: str, counts: Counts, files: Sequence[FileView]
) -> None:
    """Move the unit's counts (and its files') from errors to what the replay of ``counts.read``
    rows loaded, in one transaction."""
    moved = {
        "inserted": Unit.inserted + counts.inserted,
        "updated": Unit.updated + counts.updated,
        "rejected": Unit.rejected + counts.rejected,
        "errors": Unit.errors - counts.read + counts.errors,
    }
    with store.write() as session:
        session.execute(update(Unit).where(Unit.id == unit_id).values(**moved))
        for f in files:
            fc = f.counts
            session.execute(
                update(UnitFile)
                .where(UnitFile.unit_id == unit_id, UnitFile.name == f.name)
                .values(
                    inserted=UnitFile.inserted + fc.inserted,
                    updated=UnitFile.updated + fc.updated,
                    rejected=UnitFile.rejected + fc.rejected,
                    errors=UnitFile.errors - fc.read + fc.errors,
                )
            )
