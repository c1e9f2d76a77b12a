"""Fixtures of the API tests: the real app over a real store and a real Temporal, in-process.

Each test gets a migrated database (a SQLite file, or a fresh PostgreSQL schema: the ``database``
fixture is parametrised over both), its own task queue with a worker reading secrets from that
store, an API key, and an ``httpx.AsyncClient`` talking to the app through ``ASGITransport``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from keel.api.app import create_app
from keel.api.catalog import StoreCatalog
from keel.api.state import ServiceState
from keel.execution.local import LocalExecutor
from keel.orchestration.worker import build_worker
from keel.store import apikeys
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.secrets import StoreSecrets
from tests.integration.store.conftest import BACKENDS, pg_database, pg_schema

pytestmark = pytest.mark.integration

BASE_URL = "http://keel.test"


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty store on SQLite or PostgreSQL."""
    if request.param == "sqlite":
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
    """The service state, with a worker on the test's task queue reading secrets from the store."""
    cipher = SecretCipher("a passphrase for the API tests, long enough to be a key")
    state = ServiceState(database, cipher, temporal_client, task_queue, eager=True)
    secrets = StoreSecrets(database, cipher)
    worker = build_worker(
        temporal_client, task_queue, LocalExecutor(), secrets, catalog=StoreCatalog(database)
    )
    async with worker:
        yield state
        await state.relay.close()  # finish the starts of runs a test accepted last


@pytest.fixture
async def api_key(database: Database) -> str:
    """A valid API key."""
    async with database.session() as session:
        return (await apikeys.create_api_key(session, "tests")).key


@pytest.fixture
async def anonymous(service: ServiceState) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app that sends no API key."""
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
async def api(anonymous: httpx.AsyncClient, api_key: str) -> httpx.AsyncClient:
    """A client of the app that sends a valid API key."""
    anonymous.headers["Authorization"] = f"Bearer {api_key}"
    return anonymous


@pytest.fixture(scope="module")
async def shared_app(
    tmp_path_factory: pytest.TempPathFactory, temporal_client: Client
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """One app for a whole module of request-shape tests (SQLite, no worker: nothing runs).

    Yields a client without credentials and a valid API key. Tests that use it must not depend
    on each other's writes.
    """
    folder = tmp_path_factory.mktemp("shared-api")
    async with Database(f"sqlite+aiosqlite:///{folder / 'keel.db'}") as db:
        await db.migrate()
        async with db.session() as session:
            key = (await apikeys.create_api_key(session, "tests")).key
        cipher = SecretCipher("a passphrase for the API tests, long enough to be a key")
        state = ServiceState(db, cipher, temporal_client, f"no-worker-{folder.name}")
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client, key
        await state.relay.close()
