"""Seen keys on SQLite and PostgreSQL: first sight, repeat sight, owners, expiry, races."""

from __future__ import annotations

import asyncio

import pytest

from keel.store import seen_keys
from keel.store.database import Database, LazyDatabase
from keel.store.seen_keys import DatabaseSeenKeys

from .conftest import DatabaseFactory

pytestmark = pytest.mark.integration


async def test_a_key_is_new_once_then_seen_by_other_owners(db: Database) -> None:
    store = DatabaseSeenKeys(LazyDatabase(lambda: db))
    assert await store.remember("wf", "run-1/a", ["k1", "k2"], 60) == set()
    assert await store.remember("wf", "run-2/a", ["k1", "k3"], 60) == {"k1"}
    assert await store.remember("wf", "run-3/a", ["k1", "k2", "k3"], 60) == {"k1", "k2", "k3"}


async def test_the_same_owner_is_never_told_it_saw_its_own_keys(db: Database) -> None:
    # A retried attempt of one call records the same keys again and must get the same answer.
    store = DatabaseSeenKeys(LazyDatabase(lambda: db))
    assert await store.remember("wf", "run-1/a[0]", ["k"], 60) == set()
    assert await store.remember("wf", "run-1/a[0]", ["k"], 60) == set()
    assert await store.remember("wf", "run-1/a[1]", ["k"], 60) == {"k"}


async def test_scopes_are_apart(db: Database) -> None:
    store = DatabaseSeenKeys(LazyDatabase(lambda: db))
    await store.remember("triage", "r1/a", ["k"], 60)
    assert await store.remember("enrich", "r2/a", ["k"], 60) == set()


async def test_an_expired_key_is_new_again_and_is_deleted(db: Database) -> None:
    store = DatabaseSeenKeys(LazyDatabase(lambda: db))
    await store.remember("wf", "r1/a", ["old", "stale"], 0.2)
    await asyncio.sleep(0.3)
    assert await store.remember("wf", "r2/a", ["old"], 60) == set()
    async with db.session() as session:
        # "stale" expired and nobody recorded it again: the expired-key sweep removed it.
        assert await seen_keys.remember(session, "wf", "r3/a", ["stale"], 60) == set()
        assert await seen_keys.remember(session, "wf", "r4/a", ["old"], 60) == {"old"}


async def test_repeated_keys_in_one_call_and_large_batches(db: Database) -> None:
    store = DatabaseSeenKeys(LazyDatabase(lambda: db))
    many = [f"k{i}" for i in range(1_234)]
    assert await store.remember("wf", "r1/a", [*many, *many[:10]], 60) == set()
    assert await store.remember("wf", "r2/a", many, 60) == set(many)


async def test_racing_runs_agree_that_exactly_one_saw_a_key_first(
    make_database: DatabaseFactory,
) -> None:
    async with make_database() as first, make_database() as second:
        await first.migrate()
        stores = [DatabaseSeenKeys(LazyDatabase(lambda d=d: d)) for d in (first, second)]
        answers = await asyncio.gather(
            *(stores[i % 2].remember("wf", f"run-{i}/a", ["alert-7"], 60) for i in range(6))
        )
        assert sum(1 for seen in answers if not seen) == 1
