"""Regions are durable: a worker killed mid-loop; a new worker finishes it without re-running work.

Each pass of a do-while scatters two items that each POST to a loopback server counting hits, then
waits on a durable timer; the worker is SIGKILLed during the first pass's timer. The hits prove,
against the outside world, that no item of a finished pass ran twice
(:mod:`tests.integration.killed_worker`).
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
def hits_server() -> Iterator[tuple[str, dict[str, int]]]:
    with counting_server() as served:
        yield served


DOC = """
title: durable regions
description: a loop of two passes, each scattering two side effects, then a durable timer
actions:
  - ref: again
    action: core.loop.start
  - ref: items
    action: core.transform.scatter
    depends_on: [again]
    args: {{collection: [a, b]}}
  - ref: hit
    action: core.http_request
    depends_on: [items]
    args:
      url: "{url}/hit"
      method: POST
      payload: {{step: "${{{{ ACTIONS.again.result.iteration }}}}-${{{{ ACTIONS.items.result }}}}"}}
  - ref: row
    action: core.transform.gather
    depends_on: [hit]
    args: {{items: "${{{{ ACTIONS.hit.result.data.seen }}}}"}}
  - ref: pause
    action: core.transform.reshape
    depends_on: [row]
    start_delay: 2
    args: {{value: "${{{{ ACTIONS.row.result }}}}"}}
  - ref: until
    action: core.loop.end
    depends_on: [pause]
    args: {{condition: "${{{{ ACTIONS.again.result.iteration < 1 }}}}"}}
returns: {{end: "${{{{ ACTIONS.until.result }}}}"}}
"""


async def test_a_killed_worker_mid_loop_is_replaced_and_no_item_runs_twice(
    temporal_server: TemporalDevServer,
    temporal_client: Client,
    task_queue: str,
    hits_server: tuple[str, dict[str, int]],
) -> None:
    url, hits = hits_server
    workflow = parse_workflow(DOC.format(url=url))

    def before_the_second_worker() -> None:
        # The first pass's timer starts once both of its items have hit the server.
        assert hits == {"0-a": 1, "0-b": 1}

    result = await run_through_a_killed_worker(
        temporal_server, temporal_client, task_queue, workflow, before_the_second_worker
    )
    assert result == {"end": {"continue": False, "iterations": 2}}
    assert hits == {"0-a": 1, "0-b": 1, "1-a": 1, "1-b": 1}
