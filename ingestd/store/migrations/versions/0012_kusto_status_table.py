"""kusto_status_entities: the entities of the status table (IngestionsStatusTable) ingestd
serves per project to the Kusto ingest SDKs; kusto_queued_blobs learns where a blob reports
(ReportMethod) and which entity it updates

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kusto_status_entities",
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey(
                "projects.id",
                ondelete="CASCADE",
                name="fk_kusto_status_entities_project_id_projects",
            ),
            nullable=False,
        ),
        sa.Column("partition_key", sa.String(1024), nullable=False),
        sa.Column("row_key", sa.String(1024), nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "partition_key", "row_key", name=op.f("pk_kusto_status_entities")
        ),
    )
    with op.batch_alter_table("kusto_queued_blobs") as batch:
        batch.add_column(
            sa.Column("report_method", sa.String(4), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("status_partition_key", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("status_row_key", sa.String(1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kusto_queued_blobs") as batch:
        batch.drop_column("status_row_key")
        batch.drop_column("status_partition_key")
        batch.drop_column("report_method")
    op.drop_table("kusto_status_entities")
