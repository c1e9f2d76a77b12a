"""Blobs: payloads too large for Temporal's history, kept in Keel's database.

:class:`DatabaseBlobs` is the :class:`~keel.orchestration.payload_storage.BlobStore` every Keel
client and worker uses (see ``keel.orchestration.connection``). It opens the database only when
the first large payload comes by, so runs with small payloads never touch it, and migrates it
then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.config import Settings
from keel.errors import StoreError
from keel.store.database import Database, database_url
from keel.store.tables import BlobRow, utcnow


class DatabaseBlobs:
    """Offloaded payloads in Keel's database (SQLite or PostgreSQL), opened on first use.

    Args:
        open_database: Returns the (unmigrated) database to use; called once, on first use.
    """

    def __init__(self, open_database: Callable[[], Database]) -> None:
        self._open = open_database
        self._database: Database | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabaseBlobs:
        """Return the blobs of the store the settings name (``KEEL_DATABASE_URL``)."""
        url = database_url(settings)
        return cls(lambda: Database(url, pooled=False))

    async def put(self, key: str, data: bytes, size: int) -> None:
        """Store ``data`` under ``key`` (a no-op apart from ``stored_at`` if it is there)."""
        database = await self._ready()
        try:
            async with database.session() as session:
                await put_blob(session, key, data, size)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not store payload {key} in Keel's store: {exc}") from exc

    async def get(self, key: str) -> bytes | None:
        """Return the data stored under ``key``, or ``None``."""
        database = await self._ready()
        try:
            async with database.session() as session:
                return await get_blob(session, key)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not read payload {key} from Keel's store: {exc}") from exc

    async def close(self) -> None:
        """Release the database (nothing stays open between uses; this drops the engine)."""
        if self._database is not None:
            await self._database.dispose()
            self._database = None

    async def _ready(self) -> Database:
        async with self._lock:
            if self._database is None:
                database = self._open()
                await database.migrate()
                self._database = database
            return self._database


async def put_blob(session: AsyncSession, key: str, data: bytes, size: int) -> None:
    """Insert a blob, or refresh ``stored_at`` of the one already there (same key, same data)."""
    now = utcnow()
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(BlobRow).values(key=key, size=size, data=data, stored_at=now)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"stored_at": now})
    )


async def get_blob(session: AsyncSession, key: str) -> bytes | None:
    """Return the stored data of ``key``, or ``None``."""
    result = await session.execute(select(BlobRow.data).where(BlobRow.key == key))
    return result.scalar_one_or_none()
