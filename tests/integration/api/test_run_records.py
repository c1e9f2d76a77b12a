"""Run-summary rows of concurrent starts: one transaction for the lot, a bad row refused alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from keel.api.run_records import RunRecorder, RunStart
from keel.errors import ConflictError
from keel.store import runs
from keel.store.database import Database

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}") as db:
        await db.migrate()
        yield db


def row(execution_id: str, **extra: Any) -> RunStart:
    return RunStart(execution_id, "wf_a", 1, "webhook", **extra)


async def test_concurrent_callers_share_one_commit(database: Database) -> None:
    commits: list[int] = []
    event.listen(database.engine.sync_engine, "commit", lambda conn: commits.append(1))
    recorder = RunRecorder(database)
    # Ten callers at once: each queues its rows before the writer task first runs.
    await asyncio.gather(*(recorder.record([row(f"run-{n}")]) for n in range(10)))
    assert len(commits) == 1
    async with database.session() as session:
        page = await runs.list_runs(session, limit=50)
    assert sorted(r.execution_id for r in page.runs) == sorted(f"run-{n}" for n in range(10))
    # Callers arriving while a write is under way form the next batch.
    commits.clear()
    first = asyncio.create_task(recorder.record([row("run-a")]))
    await asyncio.sleep(0)  # the writer has taken run-a's batch
    await asyncio.gather(first, *(recorder.record([row(f"run-b{n}")]) for n in range(5)))
    assert len(commits) == 2


async def test_a_conflicting_row_is_refused_alone(database: Database) -> None:
    recorder = RunRecorder(database)
    await recorder.record([row("run-1")])
    results = await asyncio.gather(
        recorder.record([row("run-2")]),
        recorder.record([row("run-1")]),  # already recorded, and not a redelivery
        recorder.record([row("run-1", exists_ok=True), row("run-3")]),  # a redelivery is fine
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ConflictError)
    assert "run 'run-1'" in str(results[1])
    async with database.session() as session:
        page = await runs.list_runs(session, limit=50)
    assert sorted(r.execution_id for r in page.runs) == ["run-1", "run-2", "run-3"]


async def test_a_cancelled_caller_still_gets_its_rows_written(database: Database) -> None:
    recorder = RunRecorder(database)
    caller = asyncio.create_task(recorder.record([row("run-gone")]))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await recorder.record([row("run-next")])  # queued behind it: done once both are written
    async with database.session() as session:
        assert (await runs.get_run(session, "run-gone")).status == "running"
