"""API keys: created once (the plaintext is shown once), stored as a SHA-256 hash, revocable.

A key reads ``keel_<prefix>_<secret>``: the prefix (public, unique) finds the row, the hash of the
whole key proves it. Keys carry 256 random bits, so a fast hash is enough (no bcrypt needed: there
is no dictionary to guess from).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import NotFoundError
from keel.store.tables import ApiKeyRow, new_id, utcnow

KEY_PREFIX = "keel"

#: ``last_used_at`` is written at most this often per key, so reads do not all become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: ``key`` is the only copy of the plaintext (hidden from ``repr``)."""

    id: str
    name: str
    prefix: str
    created_at: datetime
    key: str = field(repr=False)


def hash_api_key(key: str) -> str:
    """Return the stored form of a key: its SHA-256 digest in hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def create_api_key(session: AsyncSession, name: str) -> NewApiKey:
    """Create an API key named ``name``; return it with its plaintext, which is not kept."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        id=new_id("key"), name=name, prefix=prefix, hash=hash_api_key(key), created_at=utcnow()
    )
    session.add(row)
    await session.flush()
    return NewApiKey(row.id, row.name, row.prefix, row.created_at, key)


async def verify_api_key(session: AsyncSession, key: str) -> ApiKeyRow | None:
    """Return the live key row that ``key`` proves, or ``None`` (unknown, wrong or revoked).

    The hash is compared in constant time; a successful check records ``last_used_at``.
    """
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = (
        await session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == parts[1]))
    ).one_or_none()
    expected = row.hash if row is not None else hash_api_key("")
    matches = hmac.compare_digest(expected.encode(), hash_api_key(key).encode())
    if row is None or not matches or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        await session.flush()
    return row


async def list_api_keys(
    session: AsyncSession, *, include_revoked: bool = False
) -> Sequence[ApiKeyRow]:
    """Return API keys (no secrets are stored, so none are returned), oldest first."""
    query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
    if not include_revoked:
        query = query.where(ApiKeyRow.revoked_at.is_(None))
    return (await session.scalars(query)).all()


async def revoke_api_key(session: AsyncSession, key_id: str) -> ApiKeyRow:
    """Revoke an API key: it stops verifying at once; revoking twice keeps the first time.

    Raises:
        NotFoundError: No API key has that id.
    """
    row = await session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFoundError("API key", key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row
