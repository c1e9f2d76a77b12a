"""Offloaded payloads in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import zlib
from datetime import timedelta

import pytest

from keel.store.blobs import DatabaseBlobs, get_blob, prune_blobs
from keel.store.database import Database, LazyDatabase
from keel.store.tables import BlobRow, utcnow

from .conftest import DatabaseFactory

pytestmark = pytest.mark.integration


async def test_put_then_get_round_trips(db: Database) -> None:
    blobs = DatabaseBlobs(LazyDatabase(lambda: db))
    data = zlib.compress(b"payload " * 10_000)
    await blobs.put("sha256:abc", data, 80_000)
    assert await blobs.get("sha256:abc") == data
    assert await blobs.get("sha256:missing") is None


async def test_writing_the_same_key_again_refreshes_it(db: Database) -> None:
    blobs = DatabaseBlobs(LazyDatabase(lambda: db))
    await blobs.put("sha256:k", b"data", 4)
    async with db.session() as session:
        first = (await session.get(BlobRow, "sha256:k")).stored_at  # type: ignore[union-attr]
    await blobs.put("sha256:k", b"data", 4)
    async with db.session() as session:
        row = await session.get(BlobRow, "sha256:k")
        assert row is not None and row.stored_at >= first
        assert await get_blob(session, "sha256:k") == b"data"


async def test_concurrent_writers_of_one_payload_agree(make_database: DatabaseFactory) -> None:
    async with make_database() as first, make_database() as second:
        await first.migrate()
        writers = [
            DatabaseBlobs(LazyDatabase(lambda: first)),
            DatabaseBlobs(LazyDatabase(lambda: second)),
        ]
        await asyncio.gather(*(w.put("sha256:same", b"bytes", 5) for w in writers * 3))
        assert await writers[1].get("sha256:same") == b"bytes"


async def test_the_store_is_migrated_on_first_use(make_database: DatabaseFactory) -> None:
    async with make_database() as database:  # not migrated: the blobs table is not there yet
        blobs = DatabaseBlobs(LazyDatabase(lambda: database))
        await blobs.put("sha256:first", b"x", 1)
        assert await blobs.get("sha256:first") == b"x"


async def test_prune_deletes_only_what_was_not_written_lately(db: Database) -> None:
    blobs = DatabaseBlobs(LazyDatabase(lambda: db))
    await blobs.put("sha256:old", b"o" * 10, 100)
    await blobs.put("sha256:new", b"n" * 10, 50)
    async with db.session() as session:
        old = await session.get(BlobRow, "sha256:old")
        assert old is not None
        old.stored_at = utcnow() - timedelta(days=40)
    cutoff = utcnow() - timedelta(days=30)
    async with db.session() as session:
        assert await prune_blobs(session, cutoff, dry_run=True) == (1, 100)
    assert await blobs.get("sha256:old") is not None  # a dry run deletes nothing
    async with db.session() as session:
        assert await prune_blobs(session, cutoff) == (1, 100)
    assert await blobs.get("sha256:old") is None
    assert await blobs.get("sha256:new") is not None
    async with db.session() as session:
        assert await prune_blobs(session, cutoff) == (0, 0)


async def test_writing_an_old_blob_again_saves_it_from_pruning(db: Database) -> None:
    blobs = DatabaseBlobs(LazyDatabase(lambda: db))
    await blobs.put("sha256:k", b"data", 4)
    async with db.session() as session:
        row = await session.get(BlobRow, "sha256:k")
        assert row is not None
        row.stored_at = utcnow() - timedelta(days=40)
    await blobs.put("sha256:k", b"data", 4)  # a new run produced the same value
    async with db.session() as session:
        assert await prune_blobs(session, utcnow() - timedelta(days=30)) == (0, 0)
