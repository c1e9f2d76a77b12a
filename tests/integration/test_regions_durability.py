"""Regions are durable: a worker killed mid-loop; a new worker finishes it without re-running work.

Each pass of a do-while scatters two items that each POST to a loopback server counting hits, then
waits on a durable timer; the worker is SIGKILLed during the first pass's timer. The hits prove,
against the outside world, that no item of a finished pass ran twice.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from temporalio.client import Client

from keel.dsl.loader import parse_workflow
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.devserver import TemporalDevServer
from tests.integration.test_durability import _Counter, _history_has, _worker

pytestmark = pytest.mark.integration


@pytest.fixture
def hits_server() -> Iterator[tuple[str, dict[str, int]]]:
    _Counter.hits = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Counter.hits
    server.shutdown()
    server.server_close()


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
    first_worker = _worker(temporal_server.address, task_queue)
    try:
        run = await start_run(temporal_client, workflow, task_queue=task_queue)
        # The first pass's timer starts once both of its items have hit the server.
        await _history_has(temporal_client, run.execution_id, "TIMER_STARTED")
        first_worker.send_signal(signal.SIGKILL)
        first_worker.wait(timeout=10)
        assert hits == {"0-a": 1, "0-b": 1}
        second_worker = _worker(temporal_server.address, task_queue)
        try:
            result = await asyncio.wait_for(wait_result(run), timeout=60)
        finally:
            second_worker.terminate()
            second_worker.wait(timeout=10)
    finally:
        if first_worker.poll() is None:
            first_worker.kill()
    assert result == {"end": {"continue": False, "iterations": 2}}
    assert hits == {"0-a": 1, "0-b": 1, "1-a": 1, "1-b": 1}
