"""Every row that holds ciphertext of ``secret_box``: re-encrypted together for a key rotation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ingestd.store.database import Store
from ingestd.store.schema import Connection, Unit
from ingestd.store.secret_box import SecretBox


@dataclass(frozen=True)
class Resealed:
    connections: int
    blob_units: int


def reseal_all(store: Store, box: SecretBox) -> Resealed:
    """Re-encrypt every sealed value under ``box``'s first key, in one transaction: either every
    row is re-encrypted or none is (each stays readable with the key it had)."""
    connections = units = 0
    with store.write() as session:
        for row in session.scalars(
            select(Connection).where(Connection.sealed_secrets.is_not(None))
        ):
            assert row.sealed_secrets is not None
            row.sealed_secrets = box.reseal(row.sealed_secrets)
            connections += 1
        for unit in session.scalars(select(Unit).where(Unit.blob_url.is_not(None))):
            sealed = unit.spec.get("sealed_url")
            if isinstance(sealed, str):
                unit.spec = {**unit.spec, "sealed_url": box.reseal(sealed)}
                units += 1
    return Resealed(connections, units)
