"""source_days (the newest unit of each source and day) and the indexes the status and run
lists read through, so they filter and page in SQL at 1,000 sources x 1,000 days

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_units_project_source_day",
        "units",
        ["project_id", "source_name", "day", "created_at"],
    )
    op.create_index("ix_units_project_started", "units", ["project_id", "started_at"])
    op.create_index("ix_runs_project_kind_created", "runs", ["project_id", "kind", "created_at"])
    op.create_table(
        "source_days",
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey(
                "projects.id", ondelete="CASCADE", name="fk_source_days_project_id_projects"
            ),
            nullable=False,
        ),
        sa.Column("source_name", sa.String(128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "unit_id",
            sa.String(36),
            sa.ForeignKey("units.id", ondelete="CASCADE", name="fk_source_days_unit_id_units"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "source_name", "day", name=op.f("pk_source_days")),
    )
    op.create_index("ix_source_days_day", "source_days", ["project_id", "day", "source_name"])
    # Every existing source and day gets its newest unit (the same rule Runs keeps from now).
    op.execute(
        """
        INSERT INTO source_days (project_id, source_name, day, unit_id, created_at, position)
        SELECT project_id, source_name, day, id, created_at, position FROM (
            SELECT id, project_id, source_name, day, created_at, position,
                   row_number() OVER (
                       PARTITION BY project_id, source_name, day
                       ORDER BY created_at DESC, position DESC, id DESC
                   ) AS newest
            FROM units
            WHERE source_name IS NOT NULL AND day IS NOT NULL
        ) ranked
        WHERE newest = 1
        """
    )


def downgrade() -> None:
    op.drop_index("ix_source_days_day", table_name="source_days")
    op.drop_table("source_days")
    op.drop_index("ix_runs_project_kind_created", table_name="runs")
    op.drop_index("ix_units_project_started", table_name="units")
    op.drop_index("ix_units_project_source_day", table_name="units")
