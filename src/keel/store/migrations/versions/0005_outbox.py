"""The outbox: accepted webhook runs waiting to be started in Temporal.

Revision ID: 0005_outbox
Revises: 0004_secrets_webhook_hash
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_outbox"
down_revision = "0004_secrets_webhook_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``outbox`` table."""
    op.create_table(
        "outbox",
        sa.Column("execution_id", sa.String(255), nullable=False),
        sa.Column("workflow_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger_type", sa.String(20), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=True),
        sa.Column("environment", sa.String(100), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_claimed_until", "outbox", ["claimed_until"])


def downgrade() -> None:
    """Drop the ``outbox`` table (runs still in it are never started)."""
    op.drop_index("ix_outbox_claimed_until", table_name="outbox")
    op.drop_table("outbox")
