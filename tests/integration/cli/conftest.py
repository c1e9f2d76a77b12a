"""Fixtures of the CLI tests: the real API served on a free loopback port, the CLI as a process.

The API runs in the test's event loop (a real uvicorn through ``ApiServer``) over a SQLite store
and the session's Temporal dev server, with a worker on the test's own task queue; the ``keel``
command runs as a real subprocess (in a thread, so the loop keeps serving) with a terminal width
of 80 columns.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client

from keel.api.app import create_app
from keel.api.catalog import StoreCatalog
from keel.api.scheduling import delete_temporal, spec_of
from keel.api.server import ApiServer
from keel.api.state import ServiceState
from keel.api.triggers_sync import install_trigger_hooks
from keel.execution.local import LocalExecutor
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.worker import build_worker
from keel.store import apikeys, schedules
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.secrets import StoreSecrets

pytestmark = pytest.mark.integration


@dataclass
class Served:
    """A served API and what a ``keel`` process needs to reach it and its store.

    Attributes:
        url: The API's base URL.
        key: A valid API key.
        env: Environment of a ``keel`` process: this test's Temporal, task queue, store, home.
        cwd: The folder commands run in.
        database: The store the API uses.
    """

    url: str
    key: str
    env: dict[str, str]
    cwd: Path
    database: Database

    async def keel(self, *args: str, api: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``keel ARGS`` (with ``--url``/``--api-key`` when ``api``) and return it."""
        extra = ["--url", self.url, "--api-key", self.key] if api else []
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "keel.cli.main", *args, *extra],
            env={**os.environ, **self.env},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pretend_keel_up(self, address: str) -> None:
        """Write the ``stack.json`` a running ``keel up`` keeps in its home (Temporal, API)."""
        home = Path(self.env["KEEL_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        (home / "stack.json").write_text(json.dumps({"address": address, "api_url": self.url}))


@pytest.fixture
async def served(
    temporal_server: TemporalDevServer,
    temporal_client: Client,
    task_queue: str,
    tmp_path: Path,
) -> AsyncIterator[Served]:
    """The API on a free port, over a SQLite store that ``keel`` processes share.

    The store is the file a ``keel up`` in ``KEEL_HOME`` would use (``<home>/keel.db``), so a
    test may drop ``KEEL_DATABASE_URL`` and find it the way ``keel run`` does beside ``keel up``.
    """
    (tmp_path / "home").mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path / 'home' / 'keel.db'}"
    async with Database(url) as database:
        await database.migrate()
        async with database.session() as session:
            key = (await apikeys.create_api_key(session, "cli tests")).key
        cipher = SecretCipher("a passphrase for the CLI tests, long enough to be a key")
        state = ServiceState(database, cipher, temporal_client, task_queue, eager=True)
        install_trigger_hooks(state)
        worker = build_worker(
            temporal_client,
            task_queue,
            LocalExecutor(),
            StoreSecrets(database, cipher),
            catalog=StoreCatalog(database),
        )
        async with worker, ApiServer(create_app(state), "127.0.0.1", 0) as server:
            env = {
                "KEEL_TEMPORAL_ADDRESS": temporal_server.address,
                "KEEL_TASK_QUEUE": task_queue,
                "KEEL_HOME": str(tmp_path / "home"),
                "KEEL_DATABASE_URL": url,
                "COLUMNS": "80",
                "LINES": "50",
            }
            yield Served(server.url, key, env, tmp_path, database)
            await state.relay.close()  # finish the starts of runs a test accepted last
            async with database.session() as session:
                rows = await schedules.list_schedules(session)
            for row in rows:
                await delete_temporal(temporal_client, spec_of(row)[1])
