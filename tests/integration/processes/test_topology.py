"""The production topology, as separate processes on this machine.

A Temporal dev server reached by address, a fresh PostgreSQL database, a Ray head started with
``ray start --head``, two ``keel api`` processes (the first with two uvicorn server processes)
and two ``keel worker`` processes (Ray executor). Webhooks are driven through both API processes
and their results checked: a run that executes actions ran wholly on the worker processes, a
``/wait`` run of pure transforms started eagerly in the API process that accepted it. Runs
accepted by an API process that is then killed still complete, the one it was orchestrating
included.
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
  - ref: greet
    action: sample.greetings.greet
    depends_on: [total]
    args: {name: "n${{ ACTIONS.total.result }}"}
  - ref: answer
    action: core.transform.reshape
    depends_on: [greet]
    args: {value: {sum: "${{ ACTIONS.total.result }}", greeting: "${{ ACTIONS.greet.result }}"}}
returns: ${{ ACTIONS.answer.result }}
"""


PURE = """\
title: Pure
description: pure transforms only, so a /wait run of it is orchestrated by the API process
entrypoint:
  ref: double
  expects:
    n: {type: int}
actions:
  - ref: double
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.n * 2 }}"}
returns: ${{ ACTIONS.double.result }}
"""

SLOW = """\
title: Slow
description: a pure transform after a pause, long enough to kill the API process running it
entrypoint:
  ref: later
  expects:
    name: {type: str}
actions:
  - ref: later
    action: core.transform.reshape
    start_delay: 3
    args: {value: "later, ${{ TRIGGER.name }}"}
returns: ${{ ACTIONS.later.result }}
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


async def task_owners(client: Client, execution_id: str) -> tuple[list[str], set[str]]:
    """Return the pids that completed the run's workflow tasks (in order) and ran its activities."""
    history = await client.get_workflow_handle(execution_id).fetch_history()
    workflow_tasks = [
        event.workflow_task_completed_event_attributes.identity.split("@", 1)[0]
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    ]
    activities = {
        event.activity_task_started_event_attributes.identity.split("@", 1)[0]
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    }
    return workflow_tasks, activities


def wait_succeeded(url: str, key: str, execution_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        detail: dict[str, object] = httpx.get(
            f"{url}/runs/{execution_id}", headers=headers, timeout=30
        ).json()
        if detail.get("status") not in ("queued", "running", None):
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
        applied = await http.post(f"{urls[0]}/workflows/apply", json={"yaml": PURE, "alias": "p"})
        assert applied.status_code in (200, 201), applied.text
        pure_path = applied.json()["webhook_url"].split("/webhooks/", 1)[1]
        pure = [
            await http.post(f"{urls[n % 2]}/webhooks/{pure_path}/wait", json={"n": n})
            for n in range(4)
        ]

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
        total = n * (n + 1) // 2
        assert body["result"] == {"sum": total, "greeting": f"Hello, n{total}!"}

    # Runs that execute actions ran wholly on the worker processes (workflow tasks and actions);
    # the /wait runs of pure transforms were done in one workflow task by the API processes
    # (their uvicorn children), started eagerly.
    client = await connect(Settings(home=tmp_path / "home"), temporal_server.address)
    worker_pids = {str(w.popen.pid) for w in workers}
    for _, body in answers:
        workflow_tasks, activities = await task_owners(client, str(body["execution_id"]))
        assert set(workflow_tasks) <= worker_pids, (workflow_tasks, worker_pids)
        assert not activities  # local activities, beside the workflow task
    for n, answer in enumerate(pure):
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == n * 2
        workflow_tasks, activities = await task_owners(client, answer.json()["execution_id"])
        assert len(workflow_tasks) == 1 and workflow_tasks[0] not in worker_pids
        assert not activities
    for worker in workers:
        assert "executor: ray" in worker.output()

    # Runs accepted by an API process that is then killed still complete: one it handed to the
    # workers (202), and one it was orchestrating itself (/wait, waiting on a timer when killed).
    async with httpx.AsyncClient(headers=headers, timeout=120) as http:
        applied = await http.post(
            f"{urls[0]}/workflows/apply", json={"yaml": SLOW, "alias": "slow"}
        )
        assert applied.status_code in (200, 201), applied.text
        slow_path = applied.json()["webhook_url"].split("/webhooks/", 1)[1]
    accepted = httpx.post(f"{urls[1]}/webhooks/{path}", json={"numbers": [40, 2]}, timeout=30)
    assert accepted.status_code == 202, accepted.text
    waiting = asyncio.create_task(
        asyncio.to_thread(
            httpx.post, f"{urls[1]}/webhooks/{slow_path}/wait", json={"name": "x"}, timeout=30
        )
    )
    orchestrated = await wait_for_run(urls[0], key, "slow")
    apis[1].popen.kill()
    apis[1].popen.wait()
    with pytest.raises(httpx.HTTPError):  # its caller loses the answer, not the run
        await waiting
    execution_id = accepted.json()["execution_id"]
    detail = wait_succeeded(urls[0], key, execution_id)
    assert detail["status"] == "succeeded", detail
    assert run_result(await client.get_workflow_handle(execution_id).result()) == {
        "sum": 42,
        "greeting": "Hello, n42!",
    }
    detail = wait_succeeded(urls[0], key, orchestrated)
    assert detail["status"] == "succeeded", detail
    workflow_tasks, activities = await task_owners(client, orchestrated)
    # Started in the killed API process, finished by another poller of the orchestration queue
    # (a worker or the other API process).
    assert workflow_tasks[0] not in worker_pids
    assert workflow_tasks[-1] != workflow_tasks[0]
    assert not activities
    assert run_result(await client.get_workflow_handle(orchestrated).result()) == "later, x"


async def wait_for_run(url: str, key: str, workflow: str) -> str:
    """Return the id of the first run of ``workflow`` once the API lists it."""
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        while time.monotonic() < deadline:
            page = (await http.get(f"{url}/runs", params={"workflow": workflow})).json()
            if page["items"]:
                return str(page["items"][0]["execution_id"])
            await asyncio.sleep(0.1)
    raise AssertionError(f"no run of {workflow} was listed")
