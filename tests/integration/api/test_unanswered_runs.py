"""GET /runs/{id} of a running run whose worker does not answer: an answer, never a hang.

The queries that read a running run are answered by the worker that runs it. Here that worker
is stopped once the run is waiting, so nothing answers: the API must say so within the query
deadline (shortened here), and must read a run that closes meanwhile from its close event.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from keel.api.app import create_app
from keel.api.state import ServiceState
from keel.execution.local import LocalExecutor
from keel.orchestration import queries
from keel.orchestration.worker import build_worker
from keel.store import apikeys
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from tests.integration.api.conftest import BASE_URL
from tests.integration.api.flows import committed, start

pytestmark = pytest.mark.integration

WAITING = """\
title: Waiting
description: waits, then one item per number
actions:
  - ref: wait
    action: core.transform.reshape
    start_delay: 300
    args: {value: [1, 2]}
  - ref: each
    action: core.transform.reshape
    depends_on: [wait]
    for_each: ${{ for var.n in ACTIONS.wait.result }}
    args: {value: "${{ var.n }}"}
"""

#: A guard against the hang itself: far longer than the (shortened) query deadline.
GUARD_SECONDS = 60


@pytest.fixture
async def app(
    tmp_path: Path,
    temporal_client: Client,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[httpx.AsyncClient, Worker]]:
    """The API on a SQLite store, and a worker (not started) on the test's task queue."""
    monkeypatch.setattr(queries, "QUERY_TIMEOUT", timedelta(seconds=2))
    monkeypatch.setattr(queries, "REPLAY_QUERY_TIMEOUT", timedelta(seconds=2))
    async with Database(f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}") as db:
        await db.migrate()
        async with db.session() as session:
            key = (await apikeys.create_api_key(session, "tests")).key
        cipher = SecretCipher("a passphrase for the API tests, long enough to be a key")
        state = ServiceState(db, cipher, temporal_client, task_queue)
        worker = build_worker(temporal_client, task_queue, LocalExecutor())
        transport = httpx.ASGITransport(app=create_app(state))
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=headers
        ) as client:
            yield client, worker


async def _waiting_run(api: httpx.AsyncClient, worker: Worker) -> str:
    """Start a run, let the worker take it to its timer, then stop the worker."""
    async with worker:
        await committed(api, WAITING, "waiting")
        execution_id = await start(api, "waiting")
        async with asyncio.timeout(GUARD_SECONDS):
            while True:
                detail = (await api.get(f"/runs/{execution_id}")).json()
                if detail["actions"][0]["status"] == "pending" and detail["notice"] is None:
                    break  # the worker answered: it runs the run, which waits on its timer
                await asyncio.sleep(0.1)
    return execution_id


async def test_a_run_whose_worker_is_gone_is_shown_with_a_notice(
    app: tuple[httpx.AsyncClient, Worker],
) -> None:
    api, worker = app
    execution_id = await _waiting_run(api, worker)

    async with asyncio.timeout(GUARD_SECONDS):
        response = await api.get(f"/runs/{execution_id}")
    assert response.status_code == 200
    detail = response.json()
    assert detail["status"] == "running"
    assert [a["status"] for a in detail["actions"]] == ["unknown", "unknown"]
    # Its 'progress' and 'context' queries are asked at once: either one times out first.
    assert re.search(r"did not answer its '(progress|context)' query within 2 s", detail["notice"])

    async with asyncio.timeout(GUARD_SECONDS):
        items = await api.get(f"/runs/{execution_id}/actions/each/items")
    assert items.status_code == 503
    assert "did not answer its 'items' query" in items.json()["error"]["message"]


async def test_a_run_that_closes_while_asked_is_read_as_closed(
    app: tuple[httpx.AsyncClient, Worker], temporal_client: Client
) -> None:
    api, worker = app
    execution_id = await _waiting_run(api, worker)

    asking = asyncio.ensure_future(api.get(f"/runs/{execution_id}"))
    await asyncio.sleep(0.5)  # let the request reach its (unanswerable) queries
    await temporal_client.get_workflow_handle(execution_id).terminate("closed while asked")
    async with asyncio.timeout(GUARD_SECONDS):
        response = await asking
    assert response.status_code == 200
    # Read again once closed, not answered with the "running" it was when the request began.
    assert response.json()["status"] == "terminated"
