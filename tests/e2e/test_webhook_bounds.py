"""Input bounds at the edge, end to end: deep JSON, NDJSON batches, run inputs through the API.

Each refusal must be a clear 4xx naming the limit, and must start nothing: the store has no
summary row and Temporal no run on the test's task queue.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from keel.api.errors import ApiError
from keel.api.launcher import RunOrder, start_runs
from keel.api.state import ServiceState
from keel.triggers.bounds import InputBounds
from tests.e2e.conftest import commit, committed_runnable, path_of

pytestmark = pytest.mark.integration

ECHO = """\
title: Echo
description: returns its trigger
triggers:
  - type: webhook
    ref: hook
    args: {wait_timeout_seconds: 20}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: "${{ TRIGGER }}"}
returns: ${{ ACTIONS.echo.result }}
"""


def nested(depth: int) -> Any:
    """Return ``{"a": [...]}`` nested ``depth`` levels deep (objects and arrays alternating)."""
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


def deep_text(depth: int) -> str:
    """Return JSON text nested ``depth`` arrays deep, written by hand (no recursion needed)."""
    return "[" * depth + "1" + "]" * depth


async def started_nothing(api: httpx.AsyncClient, client: Client, task_queue: str) -> None:
    """Assert that no run was recorded in the store or started in Temporal for this test."""
    rows = (await api.get("/runs", params={"workflow": "echo"})).json()["items"]
    assert rows == []
    query = f"TaskQueue = '{task_queue}'"
    assert [e async for e in client.list_workflows(query)] == []


async def test_json_nested_900_deep_is_a_400_naming_the_limit(
    api: httpx.AsyncClient, temporal_client: Client, task_queue: str
) -> None:
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    for body in (deep_text(900), deep_text(65), json.dumps(nested(65))):
        for path in (hook, hook + "/wait"):
            answer = await api.post(
                path, content=body, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 400, answer.text
            error = answer.json()["error"]
            assert error["field"] == "body"
            assert "more than 64 levels deep" in error["message"], error
            assert "KEEL_MAX_JSON_DEPTH" in error["message"]
    # Without a Content-Type, a body that parses as JSON is bounded the same way.
    untyped = await api.post(hook, content=json.dumps(nested(80)).encode())
    assert untyped.status_code == 400, untyped.text
    await started_nothing(api, temporal_client, task_queue)

    # At the limit, the run goes through and returns the value whole.
    value = nested(63)  # the reshape's result nests it one level deeper: {"value": ...}
    waited = await api.post(hook + "/wait", json=value)
    assert waited.status_code == 200, waited.text
    assert waited.json()["result"] == value


async def test_ndjson_with_a_bad_second_line_starts_no_run(
    api: httpx.AsyncClient, temporal_client: Client, task_queue: str
) -> None:
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    ndjson = {"Content-Type": "application/x-ndjson"}
    for second in (deep_text(900), json.dumps(nested(70)), "{oops"):
        body = '{"n": 1}\n' + second + '\n{"n": 3}\n'
        answer = await api.post(hook, content=body, headers=ndjson)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["message"].startswith("line 2 "), answer.text
    await started_nothing(api, temporal_client, task_queue)


async def test_ndjson_over_the_runs_cap_is_a_413_and_starts_no_run(
    api: httpx.AsyncClient, service: ServiceState, temporal_client: Client, task_queue: str
) -> None:
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    ndjson = {"Content-Type": "application/x-ndjson"}
    over = "".join(f'{{"n": {n}}}\n' for n in range(101))
    answer = await api.post(hook, content=over, headers=ndjson)
    assert answer.status_code == 413, answer.text
    message = answer.json()["error"]["message"]
    assert "101 NDJSON lines" in message and "KEEL_MAX_RUNS_PER_REQUEST" in message
    assert "limit of 100 runs" in message
    await started_nothing(api, temporal_client, task_queue)

    # The cap is a setting: lowered, a three-line body is over it; at it, every run starts.
    service.bounds = InputBounds(max_runs_per_request=3)
    four = "".join(f'{{"n": {n}}}\n' for n in range(4))
    assert (await api.post(hook, content=four, headers=ndjson)).status_code == 413
    await started_nothing(api, temporal_client, task_queue)
    three = "".join(f'{{"n": {n}}}\n' for n in range(3))
    waited = await api.post(hook + "/wait", content=three, headers=ndjson)
    assert waited.status_code == 200, waited.text
    assert [run["result"] for run in waited.json()["runs"]] == [{"n": n} for n in range(3)]


async def test_the_depth_ceiling_is_below_what_temporal_can_carry(
    api: httpx.AsyncClient, service: ServiceState
) -> None:
    # KEEL_MAX_JSON_DEPTH accepts at most 200: a value that deep must make a whole run (into
    # Temporal, through the workflow, back out as the result) without overflowing anywhere.
    service.bounds = InputBounds(max_json_depth=200)
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    value = nested(199)
    waited = await api.post(hook + "/wait", json=value)
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] == "succeeded", waited.text
    assert waited.json()["result"] == value
    too_deep = await api.post(hook + "/wait", json=nested(201))
    assert too_deep.status_code == 400, too_deep.text


async def test_body_size_setting_caps_every_webhook(
    api: httpx.AsyncClient, service: ServiceState, temporal_client: Client, task_queue: str
) -> None:
    # The webhook allows 1 MiB by default; KEEL_MAX_BODY_BYTES lowers that for every webhook.
    service.bounds = InputBounds(max_body_bytes=2048)
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    answer = await api.post(hook, json={"text": "x" * 4096})
    assert answer.status_code == 413, answer.text
    assert "limit of 2048 bytes" in answer.json()["error"]["message"]
    await started_nothing(api, temporal_client, task_queue)


async def test_run_inputs_through_the_api_are_bounded(
    api: httpx.AsyncClient, temporal_client: Client, task_queue: str
) -> None:
    await commit(api, ECHO, "echo")
    for inputs in (nested(65), nested(300)):
        answer = await api.post("/workflows/echo/runs", json={"inputs": inputs})
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["field"] == "inputs"
        assert "inputs is nested more than 64 levels deep" in error["message"]
    body = '{"inputs": ' + deep_text(900) + "}"
    answer = await api.post(
        "/workflows/echo/runs", content=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= answer.status_code < 500, answer.text
    await started_nothing(api, temporal_client, task_queue)


async def test_api_bodies_over_the_size_setting_are_a_413(
    api: httpx.AsyncClient, service: ServiceState, temporal_client: Client, task_queue: str
) -> None:
    await commit(api, ECHO, "echo")
    service.bounds = InputBounds(max_body_bytes=4096)
    big = {"inputs": {"text": "x" * 8192}}
    answer = await api.post("/workflows/echo/runs", json=big)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == {
        "message": "the request body is larger than the limit of 4096 bytes (KEEL_MAX_BODY_BYTES)",
        "field": "body",
    }

    async def chunks() -> Any:  # no Content-Length: the streamed body is counted
        for _ in range(8):
            yield b" " * 1024

    streamed = await api.post(
        "/workflows/echo/runs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413, streamed.text
    await started_nothing(api, temporal_client, task_queue)
    small = await api.post("/workflows/echo/runs", json={"inputs": {"text": "x" * 100}})
    assert small.status_code == 202, small.text


async def test_a_batch_temporal_refuses_midway_records_and_names_what_started(
    api: httpx.AsyncClient, service: ServiceState, temporal_client: Client, task_queue: str
) -> None:
    # Every input is checked before the first start, so only Temporal can fail mid-batch; here
    # it refuses run 2's id (longer than the server's limit on ids).
    target = await committed_runnable(api, service, ECHO, "echo")
    orders = [RunOrder({"n": 1}), RunOrder({"n": 2}, execution_id="x" * 1500), RunOrder({"n": 3})]
    with pytest.raises(ApiError) as raised:
        await start_runs(service, target, orders, trigger_type="webhook")
    error = raised.value
    assert error.status == 503
    (first,) = error.extra["execution_ids"]
    assert error.message.startswith("Temporal refused run 2 of 3")
    assert f"runs 1 to 1 started ({first}), the rest did not" in error.message
    rows = (await api.get("/runs", params={"workflow": "echo"})).json()["items"]
    assert [row["execution_id"] for row in rows] == [first]
    started = [e.id async for e in temporal_client.list_workflows(f"TaskQueue = '{task_queue}'")]
    assert started == [first]
