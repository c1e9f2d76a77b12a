"""Seen keys: what ``core.transform.deduplicate``/``is_duplicate`` remember across runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ``seen_keys`` table."""
    op.create_table(
        "seen_keys",
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(600), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "digest", name="pk_seen_keys"),
    )
    op.create_index("ix_seen_keys_scope_expires_at", "seen_keys", ["scope", "expires_at"])


def downgrade() -> None:
    """Drop the ``seen_keys`` table."""
    op.drop_index("ix_seen_keys_scope_expires_at", table_name="seen_keys")
    op.drop_table("seen_keys")
