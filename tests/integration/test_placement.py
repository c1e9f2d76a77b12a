"""Where a run's activities execute (``RunRequest.actions_queue``) and how many a worker runs.

An orchestrating process (``keel api``) runs a workflow-only worker on the orchestration queue
and starts runs there eagerly with ``actions_queue`` set: every activity of such a run is a
regular activity on that queue, which only full workers poll. Checked on the session's dev
server with the history of each run, and with a workflow-only worker that could not run an
action even if it were handed one.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from keel.config import Settings, get_settings
from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration.action_runner import stays_in_workflow
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.placement import orchestration_queue
from keel.orchestration.stack import EmbeddedStack
from keel.orchestration.worker import build_orchestrator, build_worker
from tests.integration.loopback import serving

pytestmark = pytest.mark.integration

FLOW = """\
title: placed
description: one user action, one wait_until phrase, one pure transform
actions:
  - ref: greet
    action: sample.greetings.greet
    args: {name: "${{ TRIGGER.name }}"}
  - ref: later
    action: core.transform.reshape
    depends_on: [greet]
    wait_until: "in 1 second"
    args: {value: "${{ ACTIONS.greet.result }}"}
returns: ${{ ACTIONS.later.result }}
"""


async def _events(client: Client, execution_id: str) -> list[EventType.ValueType]:
    history = await client.get_workflow_handle(execution_id).fetch_history()
    return [event.event_type for event in history.events]


async def test_an_orchestrated_run_sends_every_activity_to_the_actions_queue(
    temporal_client: Client, task_queue: str
) -> None:
    workflow = parse_workflow(FLOW)
    orchestrator = build_orchestrator(temporal_client, task_queue)
    workers = build_worker(temporal_client, task_queue, LocalExecutor())
    async with orchestrator, workers:
        started = await start_run(
            temporal_client,
            workflow,
            task_queue=orchestration_queue(task_queue),
            trigger={"name": "Ada"},
            eager=True,
            actions_queue=task_queue,
        )
        assert await wait_result(started) == "Hello, Ada!"
    history = await temporal_client.get_workflow_handle(started.execution_id).fetch_history()
    scheduled = [
        event.activity_task_scheduled_event_attributes
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    # The action and the wait_until lookup, both regular activities on the workers' queue.
    assert sorted(a.activity_type.name for a in scheduled) == [
        "keel.resolve_instant",
        "keel.run_action",
    ]
    assert {a.task_queue.name for a in scheduled} == {task_queue}
    events = [event.event_type for event in history.events]
    assert EventType.EVENT_TYPE_MARKER_RECORDED not in events  # no local activity anywhere


async def test_a_run_without_actions_queue_keeps_local_activities(
    temporal_client: Client, task_queue: str
) -> None:
    async with build_worker(temporal_client, task_queue, LocalExecutor()):
        started = await start_run(
            temporal_client,
            parse_workflow(FLOW),
            task_queue=task_queue,
            trigger={"name": "Bo"},
            eager=True,
        )
        assert await wait_result(started) == "Hello, Bo!"
    events = await _events(temporal_client, started.execution_id)
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in events
    assert events.count(EventType.EVENT_TYPE_MARKER_RECORDED) == 2


class _Overlap(BaseHTTPRequestHandler):
    """Answers after 0.3 s and remembers the most requests it had in flight at once."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    in_flight = 0
    most = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
        time.sleep(0.3)
        with cls.lock:
            cls.in_flight -= 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("slots", "expected"), [(1, 1), (100, 4)])
async def test_a_worker_runs_at_most_its_worker_max_actions_at_once(
    temporal_server: object,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    slots: int,
    expected: int,
) -> None:
    monkeypatch.setattr(get_settings(), "http_allow_private", True)  # the action reads this
    _Overlap.in_flight = _Overlap.most = 0
    with serving(_Overlap) as url:
        flow = f"""\
title: fan
description: four calls at once
actions:
  - ref: call
    action: core.http_request
    for_each: "${{{{ for var.n in [1, 2, 3, 4] }}}}"
    args: {{url: "{url}/x", method: POST, payload: {{n: "${{{{ var.n }}}}"}}}}
"""
        settings = Settings(
            home=tmp_path,
            temporal_address=temporal_server.address,  # type: ignore[attr-defined]
            task_queue=task_queue,
            worker_max_actions=slots,
        )
        async with EmbeddedStack(settings) as stack:
            assert stack.client is not None
            started = await start_run(
                stack.client, parse_workflow(flow), task_queue=task_queue, eager=True
            )
            await wait_result(started)
    assert _Overlap.most == expected


@pytest.mark.parametrize(
    ("actions", "inline"),
    [
        ("  - {ref: a, action: core.transform.reshape, args: {value: 1}}", True),
        (
            "  - {ref: a, action: core.transform.reshape, args: {value: 1}}\n"
            "  - {ref: b, action: core.http_request, depends_on: [a], args: {url: 'http://x'}}",
            False,
        ),
        (
            "  - {ref: a, action: core.transform.reshape, args: {value: '${{ SECRETS.k.v }}'}}",
            False,
        ),
        (
            "  - {ref: a, action: core.transform.reshape, wait_until: tomorrow, args: {value: 1}}",
            False,
        ),
    ],
)
def test_which_runs_stay_in_their_workflow_task(actions: str, inline: bool) -> None:
    document = f"title: t\ndescription: d\nactions:\n{actions}\n"
    assert stays_in_workflow(parse_workflow(document)) is inline
