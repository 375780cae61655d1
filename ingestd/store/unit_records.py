"""Reading a unit row's spec column into its domain type (``domain.unit_specs``), and units'
states by id."""

from __future__ import annotations

from ingestd.domain import unit_specs
from ingestd.domain.unit_specs import UnitRecord, UnitSpec
from ingestd.store.database import Store
from ingestd.store.schema import Unit


def spec_of(unit: Unit) -> UnitSpec:
    """The unit's spec; rows written before specs had a version take what they lack (a
    source's day was stored as ``{}``) from the row's own columns."""
    return unit_specs.from_json(
        unit.spec, table=unit.table_name, source_name=unit.source_name, day=unit.day
    )


def record_of(unit: Unit) -> UnitRecord:
    return UnitRecord(
        id=unit.id,
        run_id=unit.run_id,
        project_id=unit.project_id,
        load_key=unit.load_key,
        day=unit.day,
        blob_url=unit.blob_url,
        spec=spec_of(unit),
    )


def unit_record(store: Store, unit_id: str) -> UnitRecord | None:
    """Unit ``unit_id``, or None if there is none (callers hold ids they claimed or listed)."""
    with store.read() as session:
        unit = session.get(Unit, unit_id)
        return None if unit is None else record_of(unit)
