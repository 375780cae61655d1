"""api_keys.last_used_at: when a key last authenticated a request (for `ingestd keys list`)

Revision ID: 0007
Revises: 0005 on this branch; relinked to 0006 at merge (0006 is the secrets migration)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
# The integrator relinks this to "0006" when the secrets branch (which adds 0006) merges.
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # In place on SQLite (3.35+): batch mode would rebuild the table, and dropping the old one
    # fails with foreign keys on while other rows reference it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute('ALTER TABLE "api_keys" DROP COLUMN "last_used_at"')
    else:
        op.drop_column("api_keys", "last_used_at")
