"""A closed run's details and items are read from its close event: no worker, no replay.

Each test runs its workflow with a worker, stops the worker once the run has ended, and only
then reads the run through the API (its first read: nothing is cached yet).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError

from keel.api.catalog import StoreCatalog
from keel.api.state import ServiceState
from keel.execution.local import LocalExecutor
from keel.orchestration.worker import build_worker
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.secrets import StoreSecrets
from tests.integration.api.flows import committed, start

pytestmark = pytest.mark.integration

FAILS = """\
title: Fails
description: item 1 divides by zero and nothing handles it, so the run fails
actions:
  - ref: divided
    action: core.transform.apply
    for_each: ${{ for var.n in TRIGGER.divisors }}
    args: {value: "${{ var.n }}", python_lambda: "lambda n: 10 // n"}
  - ref: after
    action: core.transform.reshape
    depends_on: [divided]
    args: {value: never}
"""

HANDLED = """\
title: Handled
description: 300 items, one fails, the error path handles it
actions:
  - ref: divided
    action: core.transform.apply
    for_each: ${{ for var.n in TRIGGER.divisors }}
    args: {value: "${{ var.n }}", python_lambda: "lambda n: 600 // n"}
  - ref: report
    action: core.transform.reshape
    depends_on: [divided.error]
    args: {value: "${{ ACTIONS.divided.error }}"}
returns: ${{ ACTIONS.report.result }}
"""

SLOW = """\
title: Slow
description: waits an hour before its second action
actions:
  - ref: first
    action: core.transform.reshape
    args: {value: 1}
  - ref: second
    action: core.transform.reshape
    depends_on: [first]
    start_delay: 3600
    args: {value: 2}
"""


class Workers:
    """The test's one worker, which the test stops when its runs have ended."""

    def __init__(self, client: Client, task_queue: str, database: Database) -> None:
        cipher = SecretCipher("a passphrase for the API tests, long enough to be a key")
        self._worker = build_worker(
            client,
            task_queue,
            LocalExecutor(),
            StoreSecrets(database, cipher),
            catalog=StoreCatalog(database),
        )
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        await self._stack.enter_async_context(self._worker)

    async def stop(self) -> None:
        await self._stack.aclose()


@pytest.fixture
async def workers(
    database: Database, temporal_client: Client, task_queue: str
) -> AsyncIterator[Workers]:
    """A worker on the test's task queue, running until the test stops it."""
    workers = Workers(temporal_client, task_queue, database)
    await workers.start()
    try:
        yield workers
    finally:
        await workers.stop()


@pytest.fixture
async def service(
    database: Database, temporal_client: Client, task_queue: str, workers: Workers
) -> ServiceState:
    """The service state; its worker is :func:`workers` (so a test can stop it)."""
    cipher = SecretCipher("a passphrase for the API tests, long enough to be a key")
    return ServiceState(database, cipher, temporal_client, task_queue, eager=True)


async def run_to_end(
    api: httpx.AsyncClient, client: Client, alias: str, inputs: dict[str, Any]
) -> str:
    """Start a run and wait for its end through Temporal (no API read of it before the test's)."""
    execution_id = await start(api, alias, inputs)
    with contextlib.suppress(WorkflowFailureError):  # a failed run is what some tests want
        await client.get_workflow_handle(execution_id).result()
    return execution_id


async def test_a_failed_run_is_read_without_a_worker(
    api: httpx.AsyncClient, temporal_client: Client, workers: Workers
) -> None:
    await committed(api, FAILS, "fails")
    execution_id = await run_to_end(api, temporal_client, "fails", {"divisors": [5, 0, 2]})
    await workers.stop()

    detail = (await api.get(f"/runs/{execution_id}")).json()
    assert detail["status"] == "failed"
    assert "ZeroDivisionError" in detail["error"]
    by_ref = {a["ref"]: a for a in detail["actions"]}
    assert by_ref["divided"]["status"] == "failed"
    assert "ZeroDivisionError" in by_ref["divided"]["error"]
    assert by_ref["divided"]["started_at"] and by_ref["divided"]["ended_at"]
    assert by_ref["after"]["status"] == "pending"  # never reached; known, not `unknown`

    items = (await api.get(f"/runs/{execution_id}/actions/divided/items")).json()
    assert items["total"] == 3
    assert items["counts"]["failed"] == 1
    failed = (
        await api.get(f"/runs/{execution_id}/actions/divided/items", params={"status": "failed"})
    ).json()
    [item] = failed["items"]
    assert item["index"] == 1 and item["input"] == {"n": 0}
    assert "ZeroDivisionError" in item["error"] and item["attempts"] >= 1


async def test_a_succeeded_run_with_failed_items_is_read_without_a_worker(
    api: httpx.AsyncClient, temporal_client: Client, workers: Workers
) -> None:
    await committed(api, HANDLED, "handled")
    divisors = [0, *range(1, 300)]
    execution_id = await run_to_end(api, temporal_client, "handled", {"divisors": divisors})
    await workers.stop()

    detail = (await api.get(f"/runs/{execution_id}")).json()
    assert detail["status"] == "succeeded"
    assert detail["input"] == {"divisors": divisors}
    assert "ZeroDivisionError" in str(detail["result"])  # `returns`: the error path's result
    by_ref = {a["ref"]: a for a in detail["actions"]}
    assert by_ref["divided"]["status"] == "failed" and by_ref["divided"]["for_each"]
    assert by_ref["report"]["status"] == "succeeded"
    assert by_ref["report"]["result"] == detail["result"]  # per-action results: the context

    url = f"/runs/{execution_id}/actions/divided/items"
    failed = (await api.get(url, params={"status": "failed"})).json()
    assert failed["total"] == 1 and failed["items"][0]["index"] == 0
    assert sum(failed["counts"].values()) == 300
    page = (await api.get(url, params={"offset": 200, "limit": 100})).json()
    assert [i["index"] for i in page["items"]] == list(range(200, 300))
    done = [i for i in page["items"] if i["status"] == "succeeded"]
    assert all(i["result"] == 600 // i["input"]["n"] for i in done)


async def test_a_terminated_run_is_still_read_through_a_worker(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    # Terminated from outside, a run records no state: a worker replays it for the queries.
    await committed(api, SLOW, "slow")
    execution_id = await start(api, "slow")
    handle = temporal_client.get_workflow_handle(execution_id)
    async with asyncio.timeout(30):  # until the first action is done and the run waits
        while (await api.get(f"/runs/{execution_id}")).json()["actions"][0]["status"] != (
            "succeeded"
        ):
            await asyncio.sleep(0.1)
    await handle.terminate("stopped by the test")
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    detail = (await api.get(f"/runs/{execution_id}")).json()
    assert detail["status"] == "terminated"
    assert detail["actions"][0]["status"] == "succeeded"
    assert detail["actions"][1]["status"] == "pending"  # answered by the query, not `unknown`
