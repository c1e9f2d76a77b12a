"""Durability: a worker killed with SIGKILL mid-run; a new worker finishes the run.

The run has a durable timer between side-effecting HTTP calls to a loopback server that counts
hits, so "completed actions are not re-run" is checked against the outside world, not only
against the history.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from temporalio.client import Client

from keel.dsl.loader import parse_workflow
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.devserver import TemporalDevServer

pytestmark = pytest.mark.integration


class _Counter(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        step = json.loads(self.rfile.read(length))["step"]
        self.hits[step] = self.hits.get(step, 0) + 1
        body = json.dumps({"step": step, "seen": self.hits[step]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def counter() -> Iterator[tuple[str, dict[str, int]]]:
    _Counter.hits = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Counter.hits
    server.shutdown()
    server.server_close()


def _worker(address: str, task_queue: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KEEL_TEMPORAL_ADDRESS": address,
        "KEEL_TASK_QUEUE": task_queue,
        "KEEL_HTTP_ALLOW_PRIVATE": "true",
        "KEEL_EXECUTOR": "local",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "keel.cli.main", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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


async def _history_has(client: Client, run_id: str, event: str, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        history = await client.get_workflow_handle(run_id).fetch_history()
        if event in json.dumps(history.to_json_dict()):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{event} never appeared in the history of {run_id}")


async def test_sigkilled_worker_is_replaced_and_the_run_completes_without_rerunning(
    temporal_server: TemporalDevServer,
    temporal_client: Client,
    task_queue: str,
    counter: tuple[str, dict[str, int]],
) -> None:
    url, hits = counter
    workflow = parse_workflow(DOC.format(url=url))
    first_worker = _worker(temporal_server.address, task_queue)
    try:
        run = await start_run(temporal_client, workflow, task_queue=task_queue)
        # The timer is started in the same workflow task that records the first two results.
        await _history_has(temporal_client, run.execution_id, "TIMER_STARTED")
        first_worker.send_signal(signal.SIGKILL)
        first_worker.wait(timeout=10)
        assert hits == {"first": 1, "second": 1}
        second_worker = _worker(temporal_server.address, task_queue)
        try:
            result = await asyncio.wait_for(wait_result(run), timeout=60)
        finally:
            second_worker.terminate()
            second_worker.wait(timeout=10)
    finally:
        if first_worker.poll() is None:
            first_worker.kill()
    assert result == {"steps": [1, 1, 1], "waited": "waited"}
    assert hits == {"first": 1, "second": 1, "third": 1}
