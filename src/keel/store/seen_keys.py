"""Seen keys in Keel's database: the memory of ``core.transform.deduplicate``/``is_duplicate``.

:class:`DatabaseSeenKeys` implements :class:`keel.actions.seen_keys.SeenKeys`. One statement per
batch of keys decides, atomically on SQLite and PostgreSQL, which keys were seen: an upsert that
takes over a key only when it has expired or belongs to the same owner, and returns the keys it
wrote. Two runs racing on one new key therefore agree: exactly one of them sees it as new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import StoreError
from keel.store.database import LazyDatabase, upsert_insert
from keel.store.tables import SeenKeyRow, utcnow

#: Keys written per statement (4 parameters each, well under SQLite's variable limit).
BATCH = 500


class DatabaseSeenKeys:
    """Seen keys in Keel's database (SQLite or PostgreSQL).

    Args:
        database: The database, opened and migrated on first use.
    """

    def __init__(self, database: LazyDatabase) -> None:
        self.database = database

    async def remember(
        self, scope: str, owner: str, digests: Sequence[str], ttl_seconds: float
    ) -> set[str]:
        """Record ``digests`` for ``ttl_seconds``; return those another owner recorded before."""
        try:
            async with (await self.database.get()).session() as session:
                return await remember(session, scope, owner, digests, ttl_seconds)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not read or record seen keys in Keel's store: {exc}") from exc


async def remember(
    session: AsyncSession, scope: str, owner: str, digests: Sequence[str], ttl_seconds: float
) -> set[str]:
    """Record ``digests`` in ``scope`` for ``owner``; return those seen (another owner, unexpired).

    Expired keys of the scope are deleted on the way, so the table holds live keys only.
    """
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    await session.execute(
        delete(SeenKeyRow).where(SeenKeyRow.scope == scope, SeenKeyRow.expires_at <= now)
    )
    unique = list(dict.fromkeys(digests))  # PostgreSQL refuses one key twice in an upsert
    insert = upsert_insert(session)
    written: set[str] = set()
    for start in range(0, len(unique), BATCH):
        rows = [
            {"scope": scope, "digest": d, "owner": owner, "expires_at": expires}
            for d in unique[start : start + BATCH]
        ]
        statement = insert(SeenKeyRow).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["scope", "digest"],
            set_={"owner": statement.excluded.owner, "expires_at": statement.excluded.expires_at},
            where=or_(SeenKeyRow.expires_at <= now, SeenKeyRow.owner == statement.excluded.owner),
        )
        result = await session.execute(statement.returning(SeenKeyRow.digest))
        written.update(result.scalars())
    return set(unique) - written
