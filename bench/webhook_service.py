"""A Keel webhook service for the benchmark: the API and a worker in one process, as ``keel up``.

``python -m bench.webhook_service ADDRESS TASK_QUEUE FOLDER`` connects to the dev server at
``ADDRESS``, serves the API on a free loopback port beside a worker on ``TASK_QUEUE`` (runs start
eagerly), commits the 3-transform webhook workflow in a SQLite store in ``FOLDER``, prints one JSON
line ``{"url": ..., "path": ...}`` and serves until its standard input closes. The benchmark runs
it as a child process so the clients do not share its GIL and its CPU time can be read alone;
with ``PYTHONPATH`` pointing at another ``src/``, it serves another version of Keel (old and new
alternate in one run). :func:`serving` is the same service in the caller's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from bench import documents


@contextlib.asynccontextmanager
async def serving(client: Client, task_queue: str, folder: Path) -> AsyncIterator[tuple[str, str]]:
    """Serve the API with a worker on ``task_queue``; yield the API's URL and the webhook path."""
    from keel.api.app import create_app
    from keel.api.commits import apply_document
    from keel.api.server import ApiServer
    from keel.api.state import ServiceState
    from keel.api.triggers_sync import install_trigger_hooks
    from keel.execution.local import LocalExecutor
    from keel.orchestration.secrets import NoSecrets
    from keel.orchestration.worker import build_worker
    from keel.store.crypto import SecretCipher
    from keel.store.database import Database

    async with Database(f"sqlite+aiosqlite:///{folder / 'keel.db'}") as database:
        await database.migrate()
        cipher = SecretCipher("keel benchmark passphrase, not a secret")
        state = ServiceState(database, cipher, client, task_queue, eager=True)
        install_trigger_hooks(state)
        worker = build_worker(client, task_queue, LocalExecutor(), NoSecrets())
        async with worker, ApiServer(create_app(state), "127.0.0.1", 0) as server:
            result = await apply_document(state, documents.WEBHOOK_TRANSFORMS, "bench-webhook")
            yield server.url, result.webhook_path()


async def _main(address: str, task_queue: str, folder: Path) -> None:
    from keel.config import Settings
    from keel.orchestration.connection import data_converter

    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))
    store = Settings(home=folder, database_url=f"sqlite+aiosqlite:///{folder / 'keel.db'}")
    client = await Client.connect(address, runtime=runtime, data_converter=data_converter(store))
    async with serving(client, task_queue, folder) as (url, path):
        print(json.dumps({"url": url, "path": path}), flush=True)
        # Serve until the benchmark closes our stdin (or dies, which closes it too).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
