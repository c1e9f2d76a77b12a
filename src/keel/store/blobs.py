"""Blobs: payloads too large for Temporal's history, kept in Keel's database.

:class:`DatabaseBlobs` is the :class:`~keel.orchestration.payload_storage.BlobStore` every Keel
client and worker uses (see ``keel.orchestration.connection``). Its database is opened on first
use (a :class:`~keel.store.database.LazyDatabase`), so runs with small payloads never touch it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.config import Settings
from keel.errors import StoreError
from keel.store.database import LazyDatabase, upsert_insert
from keel.store.tables import BlobRow, as_utc, utcnow


class DatabaseBlobs:
    """Offloaded payloads in Keel's database (SQLite or PostgreSQL).

    Args:
        database: The database, opened and migrated on first use.
    """

    def __init__(self, database: LazyDatabase) -> None:
        self.database = database

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabaseBlobs:
        """Return the blobs of the store the settings name (``KEEL_DATABASE_URL``)."""
        return cls(LazyDatabase.from_settings(settings))

    async def put(self, key: str, data: bytes, size: int) -> None:
        """Store ``data`` under ``key`` (a no-op apart from ``stored_at`` if it is there)."""
        try:
            async with (await self.database.get()).session() as session:
                await put_blob(session, key, data, size)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not store payload {key} in Keel's store: {exc}") from exc

    async def get(self, key: str) -> bytes | None:
        """Return the data stored under ``key``, or ``None``."""
        try:
            async with (await self.database.get()).session() as session:
                return await get_blob(session, key)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not read payload {key} from Keel's store: {exc}") from exc


async def put_blob(session: AsyncSession, key: str, data: bytes, size: int) -> None:
    """Insert a blob, or refresh ``stored_at`` of the one already there (same key, same data)."""
    now = utcnow()
    insert = upsert_insert(session)
    statement = insert(BlobRow).values(key=key, size=size, data=data, stored_at=now)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"stored_at": now})
    )


async def get_blob(session: AsyncSession, key: str) -> bytes | None:
    """Return the stored data of ``key``, or ``None``."""
    result = await session.execute(select(BlobRow.data).where(BlobRow.key == key))
    return result.scalar_one_or_none()


async def prune_blobs(
    session: AsyncSession, before: datetime, *, dry_run: bool = False
) -> tuple[int, int]:
    """Delete the blobs last written before ``before``; return (how many, their bytes).

    A blob is written again (``stored_at`` refreshed) whenever a run produces the same value, so
    what is old is what no recent run wrote. Runs still read older blobs, though: choose
    ``before`` earlier than the start of the oldest run whose history or result may still be read
    (the Temporal namespace's retention plus the longest run). With ``dry_run`` nothing is
    deleted.
    """
    cutoff = as_utc(before)
    old = BlobRow.stored_at < cutoff
    totals = select(func.count(), func.sum(BlobRow.size)).where(old)
    count, size = (await session.execute(totals)).one()
    if not dry_run:
        await session.execute(delete(BlobRow).where(old))
    return int(count or 0), int(size or 0)
