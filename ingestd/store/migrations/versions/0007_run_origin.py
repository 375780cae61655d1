"""runs.origin: the front end (dialect) a run was asked for through

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(16), nullable=True))
    # Older runs: the two kinds only one dialect creates; the others stay unknown (NULL).
    op.execute("UPDATE runs SET origin = 'kusto' WHERE kind = 'blobs'")
    op.execute("UPDATE runs SET origin = 'amperity' WHERE kind = 'stream'")
    op.create_index("ix_runs_project_origin", "runs", ["project_id", "origin"])


def downgrade() -> None:
    op.drop_index("ix_runs_project_origin", table_name="runs")
    # In place on SQLite (3.35+): batch mode would rebuild the table, and dropping the old one
    # fails with foreign keys on while other rows reference it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute('ALTER TABLE "runs" DROP COLUMN "origin"')
    else:
        op.drop_column("runs", "origin")
