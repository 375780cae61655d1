"""stored_payloads and payload_chunks: the bytes the API accepts (Kusto uploads and their
blocks) live in the metadata database, in chunks, so a worker on another machine reads them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_payloads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey(
                "projects.id", ondelete="CASCADE", name="fk_stored_payloads_project_id_projects"
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("block", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_payloads")),
    )
    op.create_index(
        "ix_stored_payloads_lookup",
        "stored_payloads",
        ["project_id", "kind", "name", "block", "complete"],
    )
    op.create_table(
        "payload_chunks",
        sa.Column(
            "payload_id",
            sa.Integer(),
            sa.ForeignKey(
                "stored_payloads.id",
                ondelete="CASCADE",
                name="fk_payload_chunks_payload_id_stored_payloads",
            ),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("payload_id", "seq", name=op.f("pk_payload_chunks")),
    )


def downgrade() -> None:
    op.drop_table("payload_chunks")
    op.drop_index("ix_stored_payloads_lookup", table_name="stored_payloads")
    op.drop_table("stored_payloads")
