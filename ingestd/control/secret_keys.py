"""Rotating the keys that encrypt secrets at rest (``ingestd secrets rotate-key``).

With the key file (``<data dir>/secret.key``): a new key is put first in the file while the old
ones stay listed, every sealed row is re-encrypted under it in one transaction, and only then
are the old keys removed from the file. A crash at any point leaves every row readable.
With ``INGESTD_SECRET_KEY``: the operator puts the new key first (``generate-key`` makes one),
rotates, then removes the old keys from the setting. docs/security/secrets.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestd.errors import InvalidInput
from ingestd.settings import Settings
from ingestd.store.database import Store
from ingestd.store.sealed_rows import reseal_all
from ingestd.store.secret_box import (
    SecretBox,
    ensure_key_file,
    generate_key,
    parse_keys,
    write_key_file,
)


@dataclass(frozen=True)
class Rotation:
    connections: int
    blob_units: int
    key_file: bool
    """True: the key file was rotated (and holds only the new key); False: the setting's first
    key now encrypts every row and the others may be removed from INGESTD_SECRET_KEY."""


def _reseal(settings: Settings, box: SecretBox) -> tuple[int, int]:
    store = Store(settings.metadata_url, box)
    try:
        store.migrate()
        done = reseal_all(store, box)
    finally:
        store.dispose()
    return done.connections, done.blob_units


def rotate_key(settings: Settings) -> Rotation:
    """Re-encrypt every stored secret under a new key (see the module docstring)."""
    if settings.secret_key is not None:
        keys = parse_keys(settings.secret_key.get_secret_value())
        if len(keys) < 2:
            raise InvalidInput(
                "INGESTD_SECRET_KEY holds one key: there is nothing to rotate to",
                hint="put a new key first (ingestd secrets generate-key), then the old one, "
                "comma-separated, and run rotate-key again",
            )
        connections, units = _reseal(settings, SecretBox(keys))
        return Rotation(connections, units, key_file=False)
    path = settings.secret_key_file
    old = ensure_key_file(path)
    new = generate_key()
    write_key_file(path, [new, *old])
    connections, units = _reseal(settings, SecretBox([new, *old]))
    write_key_file(path, [new])
    return Rotation(connections, units, key_file=True)


def new_key() -> str:
    """A fresh key for INGESTD_SECRET_KEY."""
    return generate_key().decode("ascii")
