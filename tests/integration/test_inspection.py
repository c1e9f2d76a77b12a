"""Reading runs back (per-action details, timeline) and re-running a failed run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from keel.execution.local import LocalExecutor
from keel.orchestration.client import RunFailedError, rerun_from_failure, wait_result
from keel.orchestration.inspection import MASK, describe_run, run_timeline
from keel.orchestration.worker import build_worker
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(temporal_client: Client, task_queue: str) -> AsyncIterator[Engine]:
    async with build_worker(temporal_client, task_queue, LocalExecutor()):
        yield Engine(temporal_client, task_queue)


FLOW = """
title: inspect me
description: three steps, one masked, one failing on a trigger flag
actions:
  - ref: a
    action: core.transform.reshape
    args: {value: {token: abc}}
    mask_output: true
  - ref: b
    action: core.transform.apply
    depends_on: [a]
    args: {value: "${{ TRIGGER.n }}", python_lambda: "lambda n: 10 // n"}
  - ref: c
    action: core.transform.reshape
    depends_on: [b]
    args: {value: "${{ ACTIONS.b.result + 1 }}"}
returns: ${{ ACTIONS.c.result }}
"""


async def test_describe_shows_each_action_with_masked_results(engine: Engine) -> None:
    run = await engine.start(FLOW, {"n": 5})
    assert await wait_result(run) == 3
    detail = await describe_run(engine.client, run.execution_id)
    assert detail.status == "succeeded" and detail.title == "inspect me"
    by_ref = {a.ref: a for a in detail.actions}
    assert by_ref["a"].result == MASK
    assert by_ref["b"].result == 2 and by_ref["b"].attempts == 1
    assert by_ref["c"].status == "succeeded" and by_ref["c"].duration_ms is not None


async def test_timeline_names_each_activity(engine: Engine) -> None:
    run = await engine.start(FLOW, {"n": 5})
    await wait_result(run)
    kinds = [(e.kind, e.detail) for e in await run_timeline(engine.client, run.execution_id)]
    assert kinds[0][0] == "workflow_execution_started"
    assert ("local_activity_completed", "b#1") in kinds
    assert kinds[-1][0] == "workflow_execution_completed"


async def test_a_failed_run_reports_its_error_and_reruns_from_the_failed_action(
    engine: Engine,
) -> None:
    run = await engine.start(FLOW, {"n": 0})
    with pytest.raises(RunFailedError):
        await wait_result(run)
    detail = await describe_run(engine.client, run.execution_id)
    assert detail.status == "failed"
    assert detail.error is not None and "ZeroDivisionError" in detail.error
    assert [a.status for a in detail.actions] == ["succeeded", "failed", "pending"]

    rerun = await rerun_from_failure(engine.client, run.execution_id, task_queue=engine.task_queue)
    with pytest.raises(RunFailedError):
        await wait_result(rerun)  # same trigger, same failure: but `a` was not run again
    again = await describe_run(engine.client, rerun.execution_id)
    first = {a.ref: a for a in again.actions}["a"]
    assert first.status == "succeeded"
    assert "result reused from the earlier run" in first.events
    assert first.attempts == 0
