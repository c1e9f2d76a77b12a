"""The outbox's store functions: claims with a lease, never shared between two processes."""

from __future__ import annotations

import asyncio

import pytest

from keel.store import outbox, runs
from keel.store.database import Database
from keel.store.outbox import Accepted, Lease

from .conftest import DatabaseFactory

pytestmark = pytest.mark.integration


def entries(count: int) -> list[Accepted]:
    return [Accepted(f"run-{n}", "wf_x", 1, "webhook", {"n": n}) for n in range(count)]


async def claim(database: Database, owner: str, limit: int) -> list[str]:
    async with database.session() as session:
        taken = await outbox.claim_expired(
            session, owner=owner, until=Lease(owner, 60).until(), limit=limit
        )
    return [entry.execution_id for entry in taken]


async def test_two_sweepers_at_once_take_disjoint_entries(make_database: DatabaseFactory) -> None:
    async with make_database() as first, make_database() as second:
        await first.migrate()
        async with first.session() as session:
            await outbox.add(session, entries(40), owner="gone", until=Lease("gone", 0).until())
        a, b = await asyncio.gather(claim(first, "a", 25), claim(second, "b", 25))
        assert not set(a) & set(b)
        assert len(a) + len(b) == 40
        assert await claim(first, "c", 25) == []  # every lease is live now


async def test_renew_keeps_only_own_claims_and_release_hands_them_back(db: Database) -> None:
    async with db.session() as session:
        await outbox.add(session, entries(3), owner="me", until=Lease("me", 60).until())
        assert await outbox.count(session) == 3
    assert await claim(db, "other", 10) == []
    async with db.session() as session:
        mine = await outbox.renew(
            session, ["run-0", "run-1"], owner="me", until=Lease("me", 60).until(), error="down"
        )
        assert mine == {"run-0", "run-1"}
        assert (
            await outbox.renew(session, ["run-2"], owner="other", until=Lease("o", 9).until())
            == set()
        )
        assert await outbox.release(session, owner="me") == 3
    assert sorted(await claim(db, "other", 10)) == ["run-0", "run-1", "run-2"]
    async with db.session() as session:
        found = await outbox.find(session, "run-1")
        assert found == Accepted("run-1", "wf_x", 1, "webhook", {"n": 1})
        await outbox.remove(session, ["run-0", "run-1", "run-2"])
        assert await outbox.count(session) == 0
        assert await outbox.find(session, "run-1") is None


async def test_a_queued_row_moves_to_running_once(db: Database) -> None:
    async with db.session() as session:
        queued = runs.run_values(
            "run-q", workflow_id="wf_x", version=1, trigger_type="webhook", status="queued"
        )
        assert await runs.insert_runs(session, [queued]) == [True]
        again = runs.run_values("run-q", workflow_id="wf_x", version=1, trigger_type="webhook")
        assert await runs.insert_runs(session, [again], exists_ok=[True]) == [False]
        assert (await runs.get_run(session, "run-q")).status == "queued"
        await runs.mark_started(session, ["run-q"])
    async with db.session() as session:
        assert (await runs.get_run(session, "run-q")).status == "running"
        await runs.update_run_status(session, "run-q", "succeeded")
        await runs.mark_started(session, ["run-q"])  # a late settle changes nothing
    async with db.session() as session:
        assert (await runs.get_run(session, "run-q")).status == "succeeded"


async def test_any_json_payload_is_kept_as_it_was(db: Database) -> None:
    """What a webhook accepts is stored as it came: NUL characters, big numbers, nesting."""
    trigger = {"text": "a\u0000b", "n": -2e300, "deep": [[[{"x": None}]]], "big": 2**62}
    async with db.session() as session:
        await outbox.add(
            session,
            [Accepted("run-j", "wf_x", 1, "webhook", trigger)],
            owner="me",
            until=Lease("me", 9).until(),
        )
    async with db.session() as session:
        found = await outbox.find(session, "run-j")
    assert found is not None and found.trigger == trigger
