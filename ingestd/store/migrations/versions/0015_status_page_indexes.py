"""Indexes that let the status and run lists read a page from the index alone: source_days'
day index carries unit_id (PostgreSQL's INCLUDE; an index-only scan skips a deep page's rows
without visiting the table), and the runs of a kind are indexed in the lists' order (newest
first, then by id) with the id in the key, so a page's ids come from an index-only scan
(the narrower ix_runs_project_kind_created stays for the lists' counts)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # SQLite has no INCLUDE; its index stays as 0010 made it.
        op.drop_index("ix_source_days_day", table_name="source_days")
        op.create_index(
            "ix_source_days_day",
            "source_days",
            ["project_id", "day", "source_name"],
            postgresql_include=["unit_id"],
        )
    # ix_runs_project_kind_created stays: narrower, it is what a list's count scans.
    op.create_index(
        "ix_runs_project_kind_newest",
        "runs",
        ["project_id", "kind", sa.text("created_at DESC"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_runs_project_kind_newest", table_name="runs")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_source_days_day", table_name="source_days")
        op.create_index("ix_source_days_day", "source_days", ["project_id", "day", "source_name"])
