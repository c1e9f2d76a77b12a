"""The same engine with action code on Ray: the orchestration does not depend on the executor."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from keel.config import Settings
from keel.execution.ray import RayExecutor
from keel.orchestration.client import RunFailedError
from keel.orchestration.worker import build_worker
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(
    temporal_client: Client, task_queue: str, ray_cluster: None
) -> AsyncIterator[Engine]:
    executor = RayExecutor(Settings(executor="ray"))
    async with build_worker(temporal_client, task_queue, executor):
        yield Engine(temporal_client, task_queue)
    await executor.close()


async def test_for_each_of_activity_actions_runs_on_ray(engine: Engine) -> None:
    result = await engine.run(
        """
title: ray
description: activity actions on Ray
actions:
  - ref: items
    action: core.transform.reshape
    args: {value: ["a", "bb", "ccc"]}
  - ref: lengths
    action: core.transform.apply
    depends_on: [items]
    for_each: ${{ for var.s in ACTIONS.items.result }}
    args: {value: "${{ var.s }}", python_lambda: "lambda s: len(s)"}
  - ref: urls
    action: core.text.extract_urls
    depends_on: [lengths]
    args: {texts: "see https://a.example/x and http://b.example"}
returns: {lengths: "${{ ACTIONS.lengths.result }}", urls: "${{ ACTIONS.urls.result }}"}
"""
    )
    assert result == {"lengths": [1, 2, 3], "urls": ["https://a.example/x", "http://b.example"]}


async def test_an_action_error_on_ray_keeps_its_type_and_message(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            """
title: ray
description: failing action on Ray
actions:
  - ref: boom
    action: core.transform.apply
    args: {value: {}, python_lambda: "lambda x: x['nope']"}
"""
        )
    assert "action 'boom' failed after 1 attempt(s): LambdaError" in str(info.value)
    assert "nope" in str(info.value)
