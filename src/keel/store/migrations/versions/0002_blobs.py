"""Blobs: payloads too large for Temporal's history (see ``keel.orchestration.payload_storage``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``blobs`` table."""
    op.create_table(
        "blobs",
        sa.Column("key", sa.String(80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_blobs"),
    )
    op.create_index("ix_blobs_stored_at", "blobs", ["stored_at"])


def downgrade() -> None:
    """Drop the ``blobs`` table."""
    op.drop_index("ix_blobs_stored_at", table_name="blobs")
    op.drop_table("blobs")
