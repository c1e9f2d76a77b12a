"""Deduplication across runs, for real: a dev server, a worker and Keel's store (SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from keel.config import Settings
from keel.execution.base import Executor
from keel.execution.local import LocalExecutor
from keel.execution.ray import RayExecutor
from keel.orchestration.client import RunFailedError, wait_result
from keel.orchestration.worker import build_worker
from keel.store.database import LazyDatabase
from keel.store.seen_keys import DatabaseSeenKeys
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration

ALERTS = """
title: alert intake
description: handles each alert once a day
actions:
  - ref: fresh
    action: core.transform.deduplicate
    args:
      items: ${{ TRIGGER.alerts }}
      keys: [source, id]
      expire_seconds: 86400
  - ref: first_time
    action: core.transform.is_duplicate
    depends_on: [fresh]
    args: {item: "${{ TRIGGER.alerts[0] }}", keys: [source, id]}
returns:
  fresh: ${{ ACTIONS.fresh.result }}
  first_was_seen: ${{ ACTIONS.first_time.result }}
"""


def alerts(*ids: int) -> dict[str, list[dict[str, object]]]:
    return {"alerts": [{"source": "edr", "id": i, "host": f"h{i}"} for i in ids]}


@pytest.fixture(params=["local", "ray"])
async def engine(
    request: pytest.FixtureRequest, temporal_client: Client, task_queue: str, tmp_path: Path
) -> AsyncIterator[Engine]:
    executor: Executor
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
        executor = RayExecutor(Settings(executor="ray"))  # stateful actions stay in-process
    else:
        executor = LocalExecutor()
    settings = Settings(home=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}")
    seen = DatabaseSeenKeys(LazyDatabase.from_settings(settings))
    async with build_worker(temporal_client, task_queue, executor, seen=seen):
        yield Engine(temporal_client, task_queue)
    await executor.close()


async def test_a_second_run_drops_what_the_first_one_handled(engine: Engine) -> None:
    first = await engine.run(ALERTS, alerts(1, 2, 2))
    assert first == {
        "fresh": [
            {"source": "edr", "id": 1, "host": "h1"},
            {"source": "edr", "id": 2, "host": "h2"},
        ],
        # deduplicate recorded alert 1 in this run, but as another action's key: is_duplicate is
        # a different call, so it sees it.
        "first_was_seen": True,
    }
    second = await engine.run(ALERTS, alerts(2, 3))
    assert second == {"fresh": [{"source": "edr", "id": 3, "host": "h3"}], "first_was_seen": True}


async def test_without_a_store_the_action_fails_saying_why(
    temporal_client: Client, task_queue: str
) -> None:
    async with build_worker(temporal_client, task_queue, LocalExecutor()):
        engine = Engine(temporal_client, task_queue)
        run = await engine.start(ALERTS, alerts(1))
        with pytest.raises(RunFailedError, match=r"remembers keys across runs in Keel's store"):
            await wait_result(run)
