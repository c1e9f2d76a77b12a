"""Run summaries: record, update, filters, cursor pagination, children, idempotency keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keel.errors import ConflictError, InvalidCursorError, NotFoundError
from keel.store import runs
from keel.store.database import Database
from keel.store.runs import RunStatus

pytestmark = pytest.mark.integration

T0 = datetime(2025, 1, 1, tzinfo=UTC)


async def test_record_update_get(db: Database) -> None:
    async with db.session() as s:
        row = await runs.record_run_start(
            s, "exec-1", workflow_id="wf_a", version=3, trigger_type="webhook", started_at=T0
        )
        assert (row.status, row.ended_at) == ("running", None)
    async with db.session() as s:
        done = await runs.update_run_status(s, "exec-1", "failed", error="boom")
        assert done.ended_at is not None
        assert done.error == "boom"
    async with db.session() as s:
        got = await runs.get_run(s, "exec-1")
        assert (got.status, got.version, got.trigger_type) == ("failed", 3, "webhook")
        assert got.started_at == T0
        with pytest.raises(NotFoundError, match="run 'nope'"):
            await runs.get_run(s, "nope")
        with pytest.raises(ConflictError, match="exec-1"):
            await runs.record_run_start(
                s, "exec-1", workflow_id=None, version=None, trigger_type="cli"
            )
        with pytest.raises(ValueError, match="unknown run status"):
            await runs.update_run_status(s, "exec-1", "weird")  # type: ignore[arg-type]


async def test_children_and_idempotency(db: Database) -> None:
    async with db.session() as s:
        await runs.record_run_start(s, "parent", workflow_id="wf_p", version=1, trigger_type="api")
        for i in (2, 1):
            await runs.record_run_start(
                s,
                f"child-{i}",
                workflow_id="wf_c",
                version=None,
                trigger_type="child",
                started_at=T0 + timedelta(seconds=i),
                parent_execution_id="parent",
                parent_action="enrich",
            )
        await runs.record_run_start(
            s, "hook-1", workflow_id="wf_p", version=1, trigger_type="webhook", idempotency_key="k"
        )
    async with db.session() as s:
        children = await runs.child_runs(s, "parent")
        assert [(c.execution_id, c.parent_action) for c in children] == [
            ("child-1", "enrich"),
            ("child-2", "enrich"),
        ]
        found = await runs.find_run_by_idempotency_key(s, "wf_p", "k")
        assert found is not None
        assert found.execution_id == "hook-1"
        assert await runs.find_run_by_idempotency_key(s, "wf_other", "k") is None
        with pytest.raises(ConflictError, match="already started run hook-1"):
            await runs.record_run_start(
                s,
                "hook-2",
                workflow_id="wf_p",
                version=1,
                trigger_type="webhook",
                idempotency_key="k",
            )


async def test_many_rows_in_one_statement_say_which_are_new(db: Database) -> None:
    def values(execution_id: str, key: str | None = None) -> dict[str, object]:
        return runs.run_values(
            execution_id, workflow_id="wf_m", version=2, trigger_type="webhook", idempotency_key=key
        )

    async with db.session() as s:
        await runs.record_run_start(s, "there", workflow_id="wf_m", version=1, trigger_type="api")
    async with db.session() as s:
        new = await runs.insert_runs(
            s,
            [values("a"), values("there"), values("b", key="k"), values("a")],
            exists_ok=[False, True, False, True],
        )
        # The second "a" was not written: its row is the first one's.
        assert new == [True, False, True, False]
    async with db.session() as s:
        assert (await runs.get_run(s, "there")).version == 1  # left as it was
        assert (await runs.get_run(s, "b")).idempotency_key == "k"
        assert await runs.insert_runs(s, []) == []
    for rows, allowed, message in [
        ([values("c"), values("there")], [False, False], "run 'there'"),
        ([values("d", key="k")], None, "already started run b"),
    ]:
        with pytest.raises(ConflictError, match=message):
            async with db.session() as s:
                await runs.insert_runs(s, rows, exists_ok=allowed)
    async with db.session() as s:  # a refused batch wrote none of its rows
        for gone in ("c", "d"):
            with pytest.raises(NotFoundError):
                await runs.get_run(s, gone)


async def seed(db: Database) -> None:
    """37 runs over two workflows; several share a start time, to test the tie-break."""
    statuses: list[RunStatus] = ["succeeded", "failed", "running"]
    async with db.session() as s:
        for i in range(37):
            await runs.record_run_start(
                s,
                f"run-{i:02d}",
                workflow_id="wf_a" if i % 2 else "wf_b",
                version=1,
                trigger_type="api",
                started_at=T0 + timedelta(minutes=i // 3),
            )
            if statuses[i % 3] != "running":
                await runs.update_run_status(s, f"run-{i:02d}", statuses[i % 3])


async def all_pages(db: Database, limit: int, **filters: object) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        async with db.session() as s:
            page = await runs.list_runs(s, limit=limit, cursor=cursor, **filters)  # type: ignore[arg-type]
        assert len(page.runs) <= limit
        seen += [r.execution_id for r in page.runs]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


async def test_cursor_pagination_is_stable_and_complete(db: Database) -> None:
    await seed(db)
    expected = sorted(
        (f"run-{i:02d}" for i in range(37)), key=lambda e: (int(e[4:]) // 3, e), reverse=True
    )
    for limit in (1, 4, 5, 37, 50):
        assert await all_pages(db, limit) == expected
    # A run that starts while paging (newer than the first page) does not shift later pages.
    async with db.session() as s:
        first = await runs.list_runs(s, limit=10)
        await runs.record_run_start(
            s,
            "late",
            workflow_id="wf_a",
            version=1,
            trigger_type="api",
            started_at=T0 + timedelta(days=1),
        )
    async with db.session() as s:
        rest = await runs.list_runs(s, limit=100, cursor=first.next_cursor)
    assert [r.execution_id for r in first.runs + rest.runs] == expected


async def test_filters(db: Database) -> None:
    await seed(db)
    only_a = await all_pages(db, 7, workflow_id="wf_a")
    assert only_a and all(int(e[4:]) % 2 for e in only_a)
    assert len(only_a) == 18
    failed = await all_pages(db, 3, status="failed")
    assert sorted(failed) == [f"run-{i:02d}" for i in range(37) if i % 3 == 1]
    finished = await all_pages(db, 50, status=["failed", "succeeded"], workflow_id="wf_b")
    assert sorted(finished) == [f"run-{i:02d}" for i in range(0, 37, 2) if i % 3 != 2]
    window = await all_pages(
        db, 2, started_after=T0 + timedelta(minutes=2), started_before=T0 + timedelta(minutes=4)
    )
    assert sorted(window) == [f"run-{i:02d}" for i in range(6, 12)]


async def test_bad_cursor_and_limit(db: Database) -> None:
    async with db.session() as s:
        with pytest.raises(InvalidCursorError, match="first page"):
            await runs.list_runs(s, cursor="not-a-cursor")
        with pytest.raises(ValueError, match="limit"):
            await runs.list_runs(s, limit=0)
