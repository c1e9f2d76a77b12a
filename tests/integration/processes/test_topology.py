"""The production topology, as separate processes on this machine.

A Temporal dev server reached by address, a fresh PostgreSQL database, a Ray head started with
``ray start --head``, two ``keel api`` processes (the first with two uvicorn server processes)
and two ``keel worker`` processes (Ray executor). Webhooks are driven through both API processes and their results checked; every
run's workflow tasks were done by a worker process (API processes start runs without eager
start), and a run accepted by an API process that is then killed still completes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from keel.config import Settings
from keel.orchestration.connection import connect
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.payloads import run_result
from tests.integration.processes.procs import KeelProcess, create_key, free_port, wait_healthy
from tests.integration.processes.ray_head import LOOPBACK_ENV, ray_head
from tests.integration.store.conftest import pg_connect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOW = """\
title: Sum
description: adds the numbers it is sent, on Ray
entrypoint:
  ref: total
  expects:
    numbers: {type: "list[int]"}
actions:
  - ref: total
    action: core.transform.apply
    args: {value: "${{ TRIGGER.numbers }}", python_lambda: "lambda xs: sum(xs)"}
  - ref: answer
    action: core.transform.reshape
    depends_on: [total]
    args: {value: {sum: "${{ ACTIONS.total.result }}"}}
returns: ${{ ACTIONS.answer.result }}
"""


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped at the end; yields its SQLAlchemy URL."""
    name = f"keel_topology_{uuid.uuid4().hex[:10]}"
    admin = await pg_connect()
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@pytest.fixture
def ray_address() -> Iterator[str]:
    with ray_head() as address:
        yield address


@pytest.fixture
def topology(
    temporal_server: TemporalDevServer,
    fresh_database: str,
    ray_address: str,
    task_queue: str,
    tmp_path: Path,
) -> Iterator[tuple[list[str], list[KeelProcess], list[KeelProcess], dict[str, str]]]:
    env = {
        "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
        "KEEL_DATABASE_URL": fresh_database,
        "KEEL_EXECUTOR": "ray",
        "KEEL_RAY_ADDRESS": ray_address,
        "KEEL_TASK_QUEUE": task_queue,
        "KEEL_SECRET_KEY": "a passphrase for the topology test, long enough to be a key",
        "KEEL_HOME": str(tmp_path / "home"),
        **LOOPBACK_ENV,
    }
    processes: list[KeelProcess] = []
    try:
        ports = [free_port(), free_port()]
        # The first API serves two uvicorn processes behind its port (--processes 2).
        apis = [
            KeelProcess(
                ["api", "--port", str(port), "--processes", str(3 - n)], env, tmp_path, f"api-{n}"
            )
            for n, port in enumerate(ports, 1)
        ]
        processes += apis
        workers = [KeelProcess(["worker"], env, tmp_path, f"worker-{n}") for n in (1, 2)]
        processes += workers
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, api in zip(urls, apis, strict=True):
            wait_healthy(url, api)
        yield urls, apis, workers, env
    finally:
        for process in processes:
            process.stop()


async def worker_identities(client: Client, execution_id: str) -> set[str]:
    """Return the identities of the workers that completed the run's workflow tasks."""
    history = await client.get_workflow_handle(execution_id).fetch_history()
    return {
        event.workflow_task_completed_event_attributes.identity
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    }


def wait_succeeded(url: str, key: str, execution_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        detail: dict[str, object] = httpx.get(
            f"{url}/runs/{execution_id}", headers=headers, timeout=30
        ).json()
        if detail.get("status") not in ("running", None):
            return detail
        time.sleep(0.3)
    raise AssertionError(f"run {execution_id} did not finish")


async def test_two_apis_two_workers_postgres_and_ray(
    topology: tuple[list[str], list[KeelProcess], list[KeelProcess], dict[str, str]],
    temporal_server: TemporalDevServer,
    tmp_path: Path,
) -> None:
    urls, apis, workers, env = topology
    key = create_key(env, tmp_path)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(headers=headers, timeout=120) as http:
        applied = await http.post(f"{urls[0]}/workflows/apply", json={"yaml": FLOW, "alias": "sum"})
        assert applied.status_code in (200, 201), applied.text
        path = applied.json()["webhook_url"].split("/webhooks/", 1)[1]

        # Deliveries through both API processes at once; every answer is the right sum.
        async def deliver(n: int) -> tuple[int, dict[str, object]]:
            url = urls[n % 2]
            answer = await http.post(
                f"{url}/webhooks/{path}/wait", json={"numbers": list(range(n + 1))}
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, object] = answer.json()
            return n, body

        answers = await asyncio.gather(*(deliver(n) for n in range(12)))
    for n, body in answers:
        assert body["status"] == "succeeded", body
        assert body["result"] == {"sum": n * (n + 1) // 2}

    # Workflow tasks ran on the worker processes, never in an API process.
    client = await connect(Settings(home=tmp_path / "home"), temporal_server.address)
    worker_pids = {str(w.popen.pid) for w in workers}
    api_pids = {str(a.popen.pid) for a in apis}
    for _, body in answers:
        identities = await worker_identities(client, str(body["execution_id"]))
        owners = {identity.split("@", 1)[0] for identity in identities}
        assert owners and owners <= worker_pids, (identities, worker_pids)
        assert not owners & api_pids
    for worker in workers:
        assert "executor: ray" in worker.output()

    # A run accepted by an API process that is then killed still completes.
    accepted = httpx.post(f"{urls[1]}/webhooks/{path}", json={"numbers": [40, 2]}, timeout=30)
    assert accepted.status_code == 202, accepted.text
    apis[1].popen.kill()
    apis[1].popen.wait()
    execution_id = accepted.json()["execution_id"]
    detail = wait_succeeded(urls[0], key, execution_id)
    assert detail["status"] == "succeeded", detail
    assert run_result(await client.get_workflow_handle(execution_id).result()) == {"sum": 42}
