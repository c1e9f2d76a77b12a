"""Webhooks: one per workflow, reached at ``/webhooks/{workflow_id}/{secret}``.

The secret is random (256 bits) and URL-safe. The store keeps only its SHA-256 digest
(:func:`~keel.triggers.webhook.secret_digest`): a copy of the database (a backup, a stolen
laptop) does not let anyone start runs. So the secret, and with it the URL, is known only when
it is made: :func:`ensure_webhook` and :func:`rotate_webhook_secret` return it once, as an
:class:`IssuedWebhook`, for the caller to show. Rotating invalidates the old URL at once.
``settings`` is a JSON mapping the trigger layer interprets (HMAC verification, allowlist...).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import ConflictError, NotFoundError
from keel.store.tables import WebhookRow, WorkflowRow, utcnow
from keel.triggers.webhook import check_secret, secret_digest


@dataclass(frozen=True)
class IssuedWebhook:
    """A webhook, with its secret when it was just made (the only time it is known).

    Attributes:
        row: The stored webhook (its ``secret_hash``, never the secret).
        secret: The new secret, or ``None`` when the webhook already existed.
    """

    row: WebhookRow
    secret: str | None = field(default=None, repr=False)


def new_webhook_secret() -> str:
    """Return a fresh random secret for a webhook URL (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


async def find_webhook(session: AsyncSession, workflow_id: str) -> WebhookRow | None:
    """Return the webhook of a workflow, or ``None`` when it has none."""
    return await session.get(WebhookRow, workflow_id)


async def get_webhook(session: AsyncSession, workflow_id: str) -> WebhookRow:
    """Return the webhook of a workflow.

    Raises:
        NotFoundError: The workflow has no webhook.
    """
    row = await find_webhook(session, workflow_id)
    if row is None:
        raise NotFoundError("webhook", workflow_id)
    return row


async def ensure_webhook(
    session: AsyncSession, workflow_id: str, *, settings: Mapping[str, Any] | None = None
) -> IssuedWebhook:
    """Return the workflow's webhook, creating it (with a new secret) when it has none.

    The secret is in the answer only when the webhook was created by this call.

    Raises:
        NotFoundError: No workflow has that id.
        ConflictError: Another session created the webhook at the same moment.
    """
    row = await find_webhook(session, workflow_id)
    if row is not None:
        return IssuedWebhook(row)
    if await session.get(WorkflowRow, workflow_id) is None:
        raise NotFoundError("workflow", workflow_id)
    now = utcnow()
    secret = new_webhook_secret()
    row = WebhookRow(
        workflow_id=workflow_id,
        secret_hash=secret_digest(secret),
        settings=dict(settings or {}),
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError("webhook", workflow_id, "was created concurrently; retry") from exc
    return IssuedWebhook(row, secret)


async def verify_webhook(session: AsyncSession, workflow_id: str, secret: str) -> WebhookRow | None:
    """Return the enabled webhook if ``secret`` is its own (digests compared in constant time)."""
    row = await find_webhook(session, workflow_id)
    if row is None or not row.enabled:
        return None
    return row if check_secret(secret, row.secret_hash) else None


async def update_webhook(
    session: AsyncSession,
    workflow_id: str,
    *,
    settings: Mapping[str, Any] | None = None,
    enabled: bool | None = None,
) -> WebhookRow:
    """Replace the webhook's settings and/or switch it on or off (``None`` leaves a field as is).

    Raises:
        NotFoundError: The workflow has no webhook.
    """
    row = await get_webhook(session, workflow_id)
    if settings is not None:
        row.settings = dict(settings)
    if enabled is not None:
        row.enabled = enabled
    row.updated_at = utcnow()
    await session.flush()
    return row


async def rotate_webhook_secret(session: AsyncSession, workflow_id: str) -> IssuedWebhook:
    """Give the webhook a new secret (returned, once); the old URL stops working.

    Raises:
        NotFoundError: The workflow has no webhook.
    """
    row = await get_webhook(session, workflow_id)
    secret = new_webhook_secret()
    row.secret_hash = secret_digest(secret)
    row.updated_at = utcnow()
    await session.flush()
    return IssuedWebhook(row, secret)


async def delete_webhook(session: AsyncSession, workflow_id: str) -> None:
    """Delete the workflow's webhook.

    Raises:
        NotFoundError: The workflow has no webhook.
    """
    await session.delete(await get_webhook(session, workflow_id))
    await session.flush()
