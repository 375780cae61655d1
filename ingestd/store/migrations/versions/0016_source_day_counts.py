"""source_day_counts: how many status cells each project has per day and source dataset, so a
status list's total and the position of a deep page cost O(days), not O(cells); filled here
from the existing cells (only those of sources that exist, as the status reads count them)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_day_counts",
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey(
                "projects.id", ondelete="CASCADE", name="fk_source_day_counts_project_id_projects"
            ),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("has_dataset", sa.Boolean(), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("cells", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "day", "has_dataset", "dataset", name=op.f("pk_source_day_counts")
        ),
    )
    # The same join the status reads count through (a cell counts while a source of its name
    # exists), grouped by that source's dataset; a source without one is (false, '').
    op.execute(
        """
        INSERT INTO source_day_counts (project_id, day, has_dataset, dataset, cells)
        SELECT d.project_id, d.day, s.dataset IS NOT NULL, coalesce(s.dataset, ''), count(*)
        FROM source_days d
        JOIN sources s ON s.project_id = d.project_id AND s.name = d.source_name
        GROUP BY d.project_id, d.day, s.dataset IS NOT NULL, coalesce(s.dataset, '')
        """
    )


def downgrade() -> None:
    op.drop_table("source_day_counts")
