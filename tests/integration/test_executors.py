"""The executors, local and Ray, run the same suite of actions and report failures as data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from keel.actions.redaction import CURRENT_REDACTOR, MARKER, Redactor
from keel.config import Settings
from keel.execution.base import ActionCall, Executor
from keel.execution.factory import create_executor
from tests.integration.sample_actions import registry

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", "ray"])
async def executor(request: pytest.FixtureRequest) -> AsyncIterator[Executor]:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    executor = create_executor(Settings(executor=request.param), registry)
    yield executor
    await executor.close()


@pytest.mark.parametrize("action", ["test.add", "test.add_async"])
async def test_sync_and_async_actions_return_their_result(executor: Executor, action: str) -> None:
    outcome = await executor.run(ActionCall(action, {"a": 2, "b": "3"}))
    assert outcome.ok
    assert outcome.result == 5  # "3" was validated (lax) into an int


async def test_bad_arguments_are_all_named_and_not_retried(executor: Executor) -> None:
    outcome = await executor.run(ActionCall("test.add", {"a": "two", "c": 1}))
    assert outcome.error is not None
    assert outcome.error.type == "ActionArgumentError"
    assert not outcome.error.retryable
    for name in ("'a'", "'b'", "'c'"):
        assert name in outcome.error.message


async def test_unknown_action_is_not_retried(executor: Executor) -> None:
    outcome = await executor.run(ActionCall("test.ad", {}))
    assert outcome.error is not None
    assert outcome.error.type == "RegistryError"
    assert "test.ad" in outcome.error.message
    assert not outcome.error.retryable


@pytest.mark.parametrize(
    ("action", "args", "error_type", "message"),
    [
        ("test.fail", {"message": "no such user"}, "LookupError", "no such user"),
        ("test.fail_unpicklable", {"code": 7}, "UnpicklableError", "7: went wrong"),
        ("test.raise_timeout", {"message": "upstream slow"}, "TimeoutError", "upstream slow"),
    ],
)
async def test_exceptions_keep_their_type_and_message(
    executor: Executor, action: str, args: dict[str, object], error_type: str, message: str
) -> None:
    outcome = await executor.run(ActionCall(action, args))
    assert outcome.error is not None
    assert (outcome.error.type, outcome.error.message) == (error_type, message)
    assert outcome.error.retryable


async def test_a_timeout_is_reported_as_timeout_error(executor: Executor) -> None:
    started = time.monotonic()
    outcome = await executor.run(ActionCall("test.sleep", {"seconds": 3}, timeout=0.3))
    assert time.monotonic() - started < 1.5
    assert outcome.error is not None
    assert outcome.error.type == "TimeoutError"
    assert outcome.error.message == "action test.sleep did not finish within 0.3 s"


async def test_a_blocking_action_leaves_the_loop_free(executor: Executor) -> None:
    call = asyncio.create_task(executor.run(ActionCall("test.sleep", {"seconds": 0.4})))
    started = time.monotonic()
    await asyncio.sleep(0.05)
    assert time.monotonic() - started < 0.25
    assert (await call).result == 0.4


async def test_the_call_s_redactor_follows_it_to_where_it_runs(executor: Executor) -> None:
    # In a thread of this process or in a Ray worker: the log records an action writes there
    # are redacted only if the worker knows the call's secrets.
    token = CURRENT_REDACTOR.set(Redactor(["s3cr3t-value"]))
    try:
        outcome = await executor.run(ActionCall("test.redacted", {"text": "key=s3cr3t-value"}))
    finally:
        CURRENT_REDACTOR.reset(token)
    assert outcome.result == f"key={MARKER}"
    plain = await executor.run(ActionCall("test.redacted", {"text": "key=s3cr3t-value"}))
    assert plain.result == "key=s3cr3t-value"  # a call that read no secret hides nothing


@pytest.mark.parametrize("backend", ["local", "ray"])
async def test_core_actions_resolve_by_name(request: pytest.FixtureRequest, backend: str) -> None:
    # The default registry: on Ray only the name travels and the worker looks it up itself.
    if backend == "ray":
        request.getfixturevalue("ray_cluster")
    executor = create_executor(Settings(executor=backend))
    try:
        call = ActionCall("core.http_request", {"url": "http://169.254.169.254/latest/meta-data/"})
        outcome = await executor.run(call)
    finally:
        await executor.close()
    assert outcome.error is not None
    assert outcome.error.type == "ForbiddenDestinationError"
    assert "169.254.169.254" in outcome.error.message
