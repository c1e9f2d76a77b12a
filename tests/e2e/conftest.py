"""Fixtures of the trigger end-to-end tests: the real app, store and Temporal, in-process.

Each test gets a migrated store (a SQLite file by default; a test asks for PostgreSQL too with
``@pytest.mark.parametrize("backend", BACKENDS, indirect=True)``), its own task queue with a
worker reading secrets from that store, the trigger hooks installed as ``keel up`` does, an API
key, and ``httpx`` clients talking to the app through ``ASGITransport``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from keel.api.app import create_app
from keel.api.launcher import Runnable, runnable
from keel.api.scheduling import delete_temporal, spec_of
from keel.api.state import ServiceState
from keel.api.triggers_sync import install_trigger_hooks
from keel.execution.local import LocalExecutor
from keel.orchestration.worker import build_worker
from keel.store import apikeys, schedules, workflows
from keel.store.crypto import SecretCipher
from keel.store.database import Database, LazyDatabase
from keel.store.secrets import StoreSecrets
from keel.store.variables import StoreVariables
from tests.integration.store.conftest import pg_database, pg_schema

BASE_URL = "http://keel.test"
PASSPHRASE = "a passphrase for the trigger tests, long enough to be a key"


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The store's backend: ``sqlite`` unless the test parametrises it indirectly."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty store."""
    if backend == "sqlite":
        async with Database(f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}") as db:
            await db.migrate()
            yield db
        return
    async with pg_schema() as schema, pg_database(schema) as db:
        await db.migrate()
        yield db


@pytest.fixture
async def service(
    database: Database, temporal_client: Client, task_queue: str
) -> AsyncIterator[ServiceState]:
    """The service with trigger hooks and a worker on the test's task queue."""
    cipher = SecretCipher(PASSPHRASE)
    state = ServiceState(database, cipher, temporal_client, task_queue, eager=True)
    install_trigger_hooks(state)
    secrets = StoreSecrets(database, cipher)
    variables = StoreVariables(LazyDatabase(lambda: database))
    async with build_worker(
        temporal_client, task_queue, LocalExecutor(), secrets, variables=variables
    ):
        yield state
        await state.relay.close()  # finish the starts of runs a test accepted last
        await _drop_schedules(state)


@pytest.fixture
async def api(service: ServiceState) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app that sends a valid API key (webhooks ignore it)."""
    async with service.database.session() as session:
        key = (await apikeys.create_api_key(session, "tests")).key
    transport = httpx.ASGITransport(app=create_app(service))
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as c:
        yield c


async def commit(api: httpx.AsyncClient, document: str, alias: str) -> dict[str, Any]:
    """Create (or update) workflow ``alias`` with ``document`` and commit it; return the answer."""
    found = await api.get(f"/workflows/{alias}")
    if found.status_code == 404:
        created = await api.post("/workflows", json={"yaml": document, "alias": alias})
        assert created.status_code == 201, created.text
    else:
        put = await api.put(f"/workflows/{alias}/draft", json={"yaml": document})
        assert put.status_code == 200, put.text
    committed = await api.post(f"/workflows/{alias}/commit")
    assert committed.status_code == 201, committed.text
    answer: dict[str, Any] = committed.json()
    return answer


async def committed_runnable(
    api: httpx.AsyncClient, service: ServiceState, document: str, alias: str
) -> Runnable:
    """Commit ``document`` as workflow ``alias``; return its first version as the launcher runs it."""
    await commit(api, document, alias)
    workflow_id = (await api.get(f"/workflows/{alias}")).json()["id"]
    async with service.database.session() as session:
        stored = await workflows.get_version(session, workflow_id, 1)
    return runnable(workflow_id, 1, dict(stored.definition))


def path_of(url: str) -> str:
    """Return the path of an absolute URL from the API (the client has the base URL)."""
    return url.removeprefix(BASE_URL)


async def eventually(check: Callable[[], Any], *, timeout: float = 15, every: float = 0.2) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(every)


async def _drop_schedules(state: ServiceState) -> None:
    """Delete the Temporal Schedules a test left (the dev server outlives the test)."""
    async with state.database.session() as session:
        rows = await schedules.list_schedules(session)
    for row in rows:
        await delete_temporal(state.temporal, spec_of(row)[1])
