"""Webhook secrets stored as SHA-256 digests: ``webhooks.secret`` becomes ``secret_hash``.

Existing rows keep working: each stored secret is replaced by its digest, so the URLs already
handed out still match. Going back cannot recover a secret from its digest: the downgrade gives
every webhook a new random secret (the old URLs stop working; rotate to show new ones).

Revision ID: 0004_secrets_webhook_hash
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0004_secrets_webhook_hash"
down_revision = "0003"
branch_labels = None
depends_on = None

_webhooks = sa.table(
    "webhooks",
    sa.column("workflow_id", sa.String),
    sa.column("secret", sa.String),
    sa.column("secret_hash", sa.String),
)


def upgrade() -> None:
    """Add ``secret_hash``, fill it with each secret's digest, and drop ``secret``."""
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("secret_hash", sa.String(64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_webhooks.c.workflow_id, _webhooks.c.secret)).all()
    for workflow_id, secret in rows:
        digest = hashlib.sha256(str(secret).encode()).hexdigest()
        connection.execute(
            _webhooks.update()
            .where(_webhooks.c.workflow_id == workflow_id)
            .values(secret_hash=digest)
        )
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("secret_hash", existing_type=sa.String(64), nullable=False)
        batch.drop_column("secret")


def downgrade() -> None:
    """Bring back ``secret`` with a new random secret per webhook (digests cannot be undone)."""
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("secret", sa.String(128), nullable=True))
    connection = op.get_bind()
    for (workflow_id,) in connection.execute(sa.select(_webhooks.c.workflow_id)).all():
        connection.execute(
            _webhooks.update()
            .where(_webhooks.c.workflow_id == workflow_id)
            .values(secret=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("secret", existing_type=sa.String(128), nullable=False)
        batch.drop_column("secret_hash")
