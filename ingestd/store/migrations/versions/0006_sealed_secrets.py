"""connections.secrets (plain JSON) becomes connections.sealed_secrets (Fernet ciphertext);
blob units keep their URL redacted in ``spec.url`` and whole only in ``spec.sealed_url``

Existing rows are encrypted with the first secret key (``Store.migrate`` passes the box).
On SQLite the column is dropped in place and ``secure_delete`` zeroes the freed pages, so the
old plain text does not stay in the file.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from ingestd.dataplane.blobs.blob_urls import redact
from ingestd.store.secret_box import SecretBox

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_connections = sa.table(
    "connections",
    sa.column("id", sa.Integer()),
    sa.column("secrets", sa.JSON()),
    sa.column("sealed_secrets", sa.Text()),
)
_units = sa.table("units", sa.column("id", sa.String()), sa.column("spec", sa.JSON()))


def _box(needed: bool) -> SecretBox | None:
    box = context.config.attributes.get("secret_box")
    if needed and not isinstance(box, SecretBox):
        raise RuntimeError(
            "migration 0006 encrypts stored secrets and needs the secret key: run it through "
            "ingestd (Services), which reads INGESTD_SECRET_KEY or <data dir>/secret.key"
        )
    return box if isinstance(box, SecretBox) else None


def _blob_specs(bind: sa.Connection, key: str) -> list[tuple[Any, dict[str, Any]]]:
    rows = bind.execute(sa.select(_units.c.id, _units.c.spec)).all()
    return [(r.id, dict(r.spec)) for r in rows if isinstance(r.spec, dict) and r.spec.get(key)]


def _drop_column(table: str, column: str) -> None:
    # Not batch mode: on SQLite it rebuilds the table (create, copy, drop, rename), and the
    # drop fails with foreign keys on while sources reference their connection. SQLite 3.35+
    # drops a column in place.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    else:
        op.drop_column(table, column)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("connections", sa.Column("sealed_secrets", sa.Text(), nullable=True))
    plain = [
        (r.id, r.secrets)
        for r in bind.execute(sa.select(_connections.c.id, _connections.c.secrets)).all()
        if r.secrets
    ]
    blobs = [(i, s) for i, s in _blob_specs(bind, "url") if not s.get("sealed_url")]
    box = _box(bool(plain or blobs))
    for row_id, secrets in plain:
        assert box is not None
        sealed = box.seal(json.dumps(secrets, sort_keys=True))
        bind.execute(
            _connections.update()
            .where(_connections.c.id == row_id)
            .values(sealed_secrets=sealed, secrets={})
        )
    _drop_column("connections", "secrets")
    for unit_id, spec in blobs:
        assert box is not None
        url = str(spec["url"])
        spec.update(url=redact(url), sealed_url=box.seal(url))
        bind.execute(_units.update().where(_units.c.id == unit_id).values(spec=spec))


def downgrade() -> None:
    bind = op.get_bind()
    op.add_column(
        "connections", sa.Column("secrets", sa.JSON(), nullable=False, server_default="{}")
    )
    sealed = [
        (r.id, r.sealed_secrets)
        for r in bind.execute(sa.select(_connections.c.id, _connections.c.sealed_secrets)).all()
        if r.sealed_secrets
    ]
    blobs = _blob_specs(bind, "sealed_url")
    box = _box(bool(sealed or blobs))
    for row_id, token in sealed:
        assert box is not None
        bind.execute(
            _connections.update()
            .where(_connections.c.id == row_id)
            .values(secrets=json.loads(box.open(token)))
        )
    _drop_column("connections", "sealed_secrets")
    for unit_id, spec in blobs:
        assert box is not None
        spec["url"] = box.open(str(spec.pop("sealed_url")))
        bind.execute(_units.update().where(_units.c.id == unit_id).values(spec=spec))
