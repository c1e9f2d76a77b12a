"""Runs of a committed version reuse the worker's parse of it, and still replay exactly."""

from __future__ import annotations

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer

from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration import workflow as keel_workflow
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.worker import build_worker, sandbox_runner
from keel.orchestration.workflow import KeelRun

pytestmark = pytest.mark.integration

DOCUMENT = """\
title: Double
description: doubles n twice
actions:
  - ref: a
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.n * 2 }}"}
  - ref: b
    action: core.transform.reshape
    depends_on: [a]
    args: {value: "${{ ACTIONS.a.result * 2 }}"}
returns: ${{ ACTIONS.b.result }}
"""


async def test_runs_with_a_definition_key_share_one_parse_and_replay(
    temporal_client: Client, task_queue: str
) -> None:
    workflow = parse_workflow(DOCUMENT)
    document = workflow.model_dump(mode="json", exclude_none=True)
    key = f"wf_cachetest_{task_queue}@1"
    runs = []
    async with build_worker(temporal_client, task_queue, LocalExecutor()):
        for n in (1, 2, 3):
            run = await start_run(
                temporal_client,
                workflow,
                document=document,
                definition_key=key,
                task_queue=task_queue,
                trigger={"n": n},
            )
            assert await wait_result(run) == 4 * n
            runs.append(run)
    assert key in keel_workflow._DEFINITIONS  # the worker kept the parse

    replayer = Replayer(workflows=[KeelRun], workflow_runner=sandbox_runner())
    for run in runs:  # with the parse cached, then parsed afresh: the same commands either way
        history = await run.handle.fetch_history()
        hot = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert hot.replay_failure is None, hot.replay_failure
        keel_workflow._DEFINITIONS.pop(key, None)
        cold = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert cold.replay_failure is None, cold.replay_failure
