"""Durability: a worker killed with SIGKILL mid-run; a new worker finishes the run.

The run has a durable timer between side-effecting HTTP calls to a loopback server that counts
hits, so "completed actions are not re-run" is checked against the outside world, not only
against the history (:mod:`tests.integration.killed_worker`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from temporalio.client import Client

from keel.dsl.loader import parse_workflow
from keel.orchestration.devserver import TemporalDevServer
from tests.integration.killed_worker import counting_server, run_through_a_killed_worker

pytestmark = pytest.mark.integration


@pytest.fixture
def counter() -> Iterator[tuple[str, dict[str, int]]]:
    with counting_server() as served:
        yield served


DOC = """
title: durable
description: a timer between side effects
actions:
  - ref: first
    action: core.http_request
    args: {{url: "{url}/hit", method: POST, payload: {{step: first}}}}
  - ref: second
    action: core.http_request
    depends_on: [first]
    args: {{url: "{url}/hit", method: POST, payload: {{step: second}}}}
  - ref: wait
    action: core.transform.reshape
    depends_on: [second]
    start_delay: 4
    args: {{value: waited}}
  - ref: third
    action: core.http_request
    depends_on: [wait]
    args: {{url: "{url}/hit", method: POST, payload: {{step: third}}}}
returns:
  steps: ["${{{{ ACTIONS.first.result.data.seen }}}}", "${{{{ ACTIONS.second.result.data.seen }}}}", "${{{{ ACTIONS.third.result.data.seen }}}}"]
  waited: ${{{{ ACTIONS.wait.result }}}}
"""


async def test_sigkilled_worker_is_replaced_and_the_run_completes_without_rerunning(
    temporal_server: TemporalDevServer,
    temporal_client: Client,
    task_queue: str,
    counter: tuple[str, dict[str, int]],
) -> None:
    url, hits = counter
    workflow = parse_workflow(DOC.format(url=url))

    def before_the_second_worker() -> None:
        assert hits == {"first": 1, "second": 1}

    result = await run_through_a_killed_worker(
        temporal_server, temporal_client, task_queue, workflow, before_the_second_worker
    )
    assert result == {"steps": [1, 1, 1], "waited": "waited"}
    assert hits == {"first": 1, "second": 1, "third": 1}
