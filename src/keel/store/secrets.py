"""Secrets: named sets of key/value pairs per environment, encrypted at rest.

A secret's key names are stored in clear (to list them); its values are encrypted together with a
:class:`~keel.store.crypto.SecretCipher`. Values leave this module only inside a :class:`Secret`,
whose ``repr`` hides them; the API must return :class:`SecretInfo` (names only), never values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import NotFoundError
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.tables import SecretRow, utcnow

DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret: its name, environment and key names, never its values."""

    name: str
    environment: str
    keys: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: SecretRow) -> SecretInfo:
        """Return the shareable facts of a stored secret."""
        return cls(row.name, row.environment, tuple(row.keys), row.created_at, row.updated_at)


@dataclass(frozen=True)
class Secret(SecretInfo):
    """A decrypted secret; ``values`` never appears in its ``repr``."""

    values: Mapping[str, str] = field(repr=False)


async def set_secret(
    session: AsyncSession,
    cipher: SecretCipher,
    name: str,
    values: Mapping[str, str],
    *,
    environment: str = DEFAULT_ENVIRONMENT,
) -> SecretInfo:
    """Create secret ``name`` in ``environment``, or replace all of its values."""
    row = await session.get(SecretRow, (environment, name))
    now = utcnow()
    ciphertext = cipher.encrypt(values)
    keys = sorted(values)
    if row is None:
        row = SecretRow(
            environment=environment,
            name=name,
            ciphertext=ciphertext,
            keys=keys,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    else:
        row.ciphertext, row.keys, row.updated_at = ciphertext, keys, now
    await session.flush()
    return SecretInfo.of(row)


async def find_secret(
    session: AsyncSession,
    cipher: SecretCipher,
    name: str,
    *,
    environment: str = DEFAULT_ENVIRONMENT,
) -> Secret | None:
    """Return secret ``name`` of ``environment`` decrypted, or ``None`` when there is none.

    Raises:
        DecryptionError: The stored value does not open with ``cipher``'s key.
    """
    row = await session.get(SecretRow, (environment, name))
    if row is None:
        return None
    values = cipher.decrypt(row.ciphertext, what=f"secret '{environment}/{name}'")
    info = SecretInfo.of(row)
    return Secret(info.name, info.environment, info.keys, info.created_at, info.updated_at, values)


async def get_secret(
    session: AsyncSession,
    cipher: SecretCipher,
    name: str,
    *,
    environment: str = DEFAULT_ENVIRONMENT,
) -> Secret:
    """Return secret ``name`` of ``environment`` decrypted.

    Raises:
        NotFoundError: The environment has no such secret.
        DecryptionError: The stored value does not open with ``cipher``'s key.
    """
    secret = await find_secret(session, cipher, name, environment=environment)
    if secret is None:
        raise NotFoundError("secret", f"{environment}/{name}")
    return secret


async def list_secrets(
    session: AsyncSession, *, environment: str | None = None
) -> list[SecretInfo]:
    """Return the secrets' names and key names (no values), optionally of one environment."""
    query = select(SecretRow).order_by(SecretRow.environment, SecretRow.name)
    if environment is not None:
        query = query.where(SecretRow.environment == environment)
    return [SecretInfo.of(row) for row in await session.scalars(query)]


async def delete_secret(
    session: AsyncSession, name: str, *, environment: str = DEFAULT_ENVIRONMENT
) -> None:
    """Delete secret ``name`` of ``environment``.

    Raises:
        NotFoundError: The environment has no such secret.
    """
    row = await session.get(SecretRow, (environment, name))
    if row is None:
        raise NotFoundError("secret", f"{environment}/{name}")
    await session.delete(row)
    await session.flush()


async def reencrypt_secrets(session: AsyncSession, old: SecretCipher, new: SecretCipher) -> int:
    """Re-encrypt every stored secret from key ``old`` to key ``new``; return how many.

    Raises:
        DecryptionError: A secret does not open with ``old`` (nothing is changed then, as long
            as the caller's transaction rolls back).
    """
    rows: Sequence[SecretRow] = (await session.scalars(select(SecretRow))).all()
    for row in rows:
        what = f"secret '{row.environment}/{row.name}'"
        row.ciphertext = new.encrypt(old.decrypt(row.ciphertext, what=what))
    await session.flush()
    return len(rows)


class StoreSecrets:
    """Secrets for runs, read from the store (fits ``keel.orchestration.secrets.SecretsProvider``).

    Args:
        database: The store to read from; each lookup opens its own short session.
        cipher: The cipher the secrets were encrypted with.
    """

    def __init__(self, database: Database, cipher: SecretCipher) -> None:
        self._database = database
        self._cipher = cipher

    def __repr__(self) -> str:
        return f"StoreSecrets({self._database!r})"

    async def get(self, name: str, environment: str) -> Mapping[str, str] | None:
        """Return secret ``name``'s key/value pairs in ``environment``, or ``None``."""
        async with self._database.session() as session:
            secret = await find_secret(session, self._cipher, name, environment=environment)
        return None if secret is None else dict(secret.values)
