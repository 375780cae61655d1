"""kusto_queue_messages and kusto_queued_blobs: the notification queues ingestd serves to the
Kusto ingest SDKs and the blobs that arrived through the ready-for-aggregation queue

Revision ID: 0008
Revises: 0005 (the integrator relinks it after 0007)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kusto_queue_messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey(
                "projects.id",
                ondelete="CASCADE",
                name="fk_kusto_queue_messages_project_id_projects",
            ),
            nullable=False,
        ),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pop_receipt", sa.String(36), nullable=False),
        sa.Column("dequeue_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kusto_queue_messages")),
    )
    op.create_index(
        "ix_kusto_queue_messages_due",
        "kusto_queue_messages",
        ["project_id", "queue", "visible_at"],
    )
    op.create_table(
        "kusto_queued_blobs",
        sa.Column(
            "unit_id",
            sa.String(36),
            sa.ForeignKey(
                "units.id", ondelete="CASCADE", name="fk_kusto_queued_blobs_unit_id_units"
            ),
            nullable=False,
        ),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey(
                "projects.id", ondelete="CASCADE", name="fk_kusto_queued_blobs_project_id_projects"
            ),
            nullable=False,
        ),
        sa.Column("operation_id", sa.String(160), nullable=False),
        sa.Column("database", sa.String(128), nullable=False),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("report_level", sa.String(4), nullable=False),
        sa.Column("upload", sa.Text(), nullable=True),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_kusto_queued_blobs")),
    )
    op.create_index("ix_kusto_queued_blobs_open", "kusto_queued_blobs", ["reported", "project_id"])


def downgrade() -> None:
    op.drop_index("ix_kusto_queued_blobs_open", table_name="kusto_queued_blobs")
    op.drop_table("kusto_queued_blobs")
    op.drop_index("ix_kusto_queue_messages_due", table_name="kusto_queue_messages")
    op.drop_table("kusto_queue_messages")
