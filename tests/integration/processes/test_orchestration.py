"""A ``keel api`` process whose orchestrating worker stops: reported, runs go on, restarted.

The service app of one API process (what uvicorn serves) against the session's dev server and
a SQLite store: its workflow-only worker is shut down behind its back; ``/health`` then says
``degraded``, runs whose caller waits are no longer started eagerly here, and once the worker is
back a ``/wait``-style run is orchestrated here again and finishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from keel.dsl.loader import parse_workflow
from keel.expressions import parser
from keel.orchestration.client import start_run, wait_result
from keel.processes.service import ServiceApp
from tests.integration.processes.service_apps import opened_service

pytestmark = pytest.mark.integration

PURE = """\
title: pure
description: one transform, orchestrated where it is started
actions:
  - ref: shout
    action: core.transform.reshape
    args: {value: "${{ FN.uppercase(TRIGGER.word) }}"}
returns: ${{ ACTIONS.shout.result }}
"""


@pytest.fixture
async def service(
    tmp_path: Path, temporal_server: object, task_queue: str
) -> AsyncIterator[ServiceApp]:
    address = temporal_server.address  # type: ignore[attr-defined]
    async with opened_service(tmp_path, address, task_queue) as app:
        yield app


async def _health(app: ServiceApp) -> dict[str, object]:
    assert app.app is not None
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as http:
        answer = await http.get("/health")
        assert answer.status_code == 200
        body: dict[str, object] = answer.json()
        return body


async def _until(condition: object, seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_a_stopped_orchestrator_is_reported_and_restarted(service: ServiceApp) -> None:
    keeper = service.orchestration
    assert keeper is not None and keeper.worker is not None
    assert service.app is not None
    state = service.app.state.keel
    health = await _health(service)
    assert (health["status"], health["orchestration"]) == ("ok", "running")
    assert state.placement(wait=True, inline=True).eager

    await keeper.worker.shutdown()  # as if the SDK had ended it
    await _until(lambda: state.orchestration == "restarting")
    health = await _health(service)
    assert (health["status"], health["orchestration"]) == ("degraded", "restarting")
    assert state.placement(wait=True, inline=True).task_queue == state.task_queue

    await _until(lambda: state.orchestration == "running" and keeper.worker is not None)
    assert keeper.restarts == 1
    assert (await _health(service))["status"] == "ok"
    where = state.placement(wait=True, inline=True)
    assert where.eager and where.task_queue != state.task_queue
    started = await start_run(
        state.temporal,
        parse_workflow(PURE),
        task_queue=where.task_queue,
        trigger={"word": "back"},
        eager=where.eager,
        actions_queue=where.actions_queue,
    )
    assert await wait_result(started) == "BACK"


async def test_an_api_process_builds_the_expression_parser_before_it_serves(
    tmp_path: Path, temporal_server: object, task_queue: str
) -> None:
    # Built lazily, the grammar's compile (~50-80 ms of CPU) fell inside the first request that
    # read an expression, stalling every request under way in that process.
    parser._lark.cache_clear()
    address = temporal_server.address  # type: ignore[attr-defined]
    async with opened_service(tmp_path, address, task_queue):
        assert parser._lark.cache_info().currsize == 1
