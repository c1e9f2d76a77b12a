"""The durability tests' harness: a real `keel worker` killed with SIGKILL mid-run, then replaced.

The runs' side effects are POSTs to a loopback server that counts hits per step, so "completed
work is not re-run" is checked against the outside world, not only against the history.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from temporalio.client import Client

from keel.dsl.model import Workflow
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.devserver import TemporalDevServer
from tests.integration.loopback import serving


class _Counter(BaseHTTPRequestHandler):
    """Counts POSTs by their ``step``; answers ``{step, seen}`` (how many times so far)."""

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


@contextmanager
def counting_server() -> Iterator[tuple[str, dict[str, int]]]:
    """Serve :class:`_Counter` on loopback; yield its URL and its hits (fresh for each use)."""
    _Counter.hits = {}
    with serving(_Counter) as url:
        yield url, _Counter.hits


def worker_process(address: str, task_queue: str) -> subprocess.Popen[bytes]:
    """Start a real ``keel worker`` process on ``task_queue`` (in-process executor)."""
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


async def history_has(client: Client, run_id: str, event: str, timeout: float = 30) -> None:
    """Wait until ``event`` (e.g. ``TIMER_STARTED``) is in the run's history."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        history = await client.get_workflow_handle(run_id).fetch_history()
        if event in json.dumps(history.to_json_dict()):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{event} never appeared in the history of {run_id}")


async def run_through_a_killed_worker(
    server: TemporalDevServer,
    client: Client,
    task_queue: str,
    workflow: Workflow,
    when_killed: Callable[[], Awaitable[None] | None] = lambda: None,
) -> Any:
    """Start ``workflow`` on a worker, SIGKILL it at its first timer, finish on a new one.

    ``when_killed`` runs once the first worker is dead and before the second starts (to check
    what had happened by then). Returns the run's result.
    """
    first = worker_process(server.address, task_queue)
    try:
        run = await start_run(client, workflow, task_queue=task_queue)
        # The timer starts in the workflow task that records the work before it.
        await history_has(client, run.execution_id, "TIMER_STARTED")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        checked = when_killed()
        if checked is not None:
            await checked
        second = worker_process(server.address, task_queue)
        try:
            return await asyncio.wait_for(wait_result(run), timeout=60)
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
