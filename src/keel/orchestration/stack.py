"""The embedded stack: Temporal (started here or reached by address) plus an in-process worker.

``keel run``, ``keel up``, the benchmarks and the tests all need the same thing: a Temporal
frontend, a worker polling Keel's task queue with the configured executor, and a client that
starts runs eagerly on it. :class:`EmbeddedStack` provides exactly that and tears it down in
reverse order.

Which Temporal: ``KEEL_TEMPORAL_ADDRESS`` when set (production: a cluster; Keel starts no
server); else a ``keel up`` that is already running in the same state folder (it publishes its
address in ``<home>/stack.json``); else a dev server started now on ``<home>/temporal.db``
(which refuses to start while another process serves that file).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from types import TracebackType

from temporalio.client import Client
from temporalio.worker import Worker

from keel.config import Settings, private_folder
from keel.execution.base import Executor
from keel.execution.factory import create_executor
from keel.expressions.limits import configure as configure_limits
from keel.orchestration.catalog import WorkflowCatalog
from keel.orchestration.connection import connect, embedded_server
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.home import StackInfo, ray_join_env
from keel.orchestration.secrets import FileSecrets, NoSecrets, SecretsProvider
from keel.orchestration.worker import build_orchestrator, build_worker
from keel.store.database import LazyDatabase
from keel.store.seen_keys import DatabaseSeenKeys
from keel.store.variables import StoreVariables


class EmbeddedStack:
    """Temporal + a Keel worker in this process, as an async context manager.

    Attributes:
        client: The Temporal client (set once entered).
        task_queue: The queue the in-process worker polls.
        server: The dev server this stack started, if it started one.
        secrets: Where the worker reads ``SECRETS`` (``keel up``: the store); when not given,
            ``KEEL_SECRETS_FILE`` or no secrets at all.
        orchestration: Also poll the orchestration queue (``keel worker``): the runs API
            processes start there go on here when their API process is gone or busy.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        task_queue: str | None = None,
        with_worker: bool = True,
        ui: bool = False,
        secrets: SecretsProvider | None = None,
        catalog: WorkflowCatalog | None = None,
        orchestration: bool = False,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.task_queue = task_queue or settings.task_queue
        self.with_worker = with_worker
        self.ui = ui
        self.secrets = secrets
        self.orchestration = orchestration
        self.server: TemporalDevServer | None = None
        self.client: Client | None = None
        self._executor: Executor | None = None
        self._worker: Worker | None = None
        self._orchestrator: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._runs: list[asyncio.Task[None]] = []

    @property
    def address(self) -> str:
        """Return the Temporal frontend address in use."""
        return self.server.address if self.server else self._known_address() or ""

    @property
    def worker_task(self) -> asyncio.Task[None] | None:
        """Return the in-process worker's task (done if the worker stopped), if there is one."""
        return self._worker_task

    async def __aenter__(self) -> EmbeddedStack:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _start(self) -> None:
        address = self._known_address()
        if address is None:
            private_folder(Path(self.settings.home), tighten=True)
            self.server = embedded_server(self.settings, ui=self.ui)
            await self.server.start()
            address = self.server.address
        self.client = await connect(self.settings, address)
        if self.with_worker:
            configure_limits(self.settings.user_code_limits())  # this worker's bounds on user code
            self._join_stack_ray()
            self._executor = create_executor(self.settings)
            store = LazyDatabase.from_settings(self.settings)  # opened on first use
            self._worker = build_worker(
                self.client,
                self.task_queue,
                self._executor,
                self._secrets(),
                catalog=self.catalog,
                seen=DatabaseSeenKeys(store),
                variables=StoreVariables(store),
                max_concurrent_activities=self.settings.worker_max_actions,
            )
            if self.orchestration:
                self._orchestrator = build_orchestrator(self.client, self.task_queue)
            workers = [w for w in (self._worker, self._orchestrator) if w is not None]
            self._runs = [asyncio.create_task(worker.run()) for worker in workers]
            self._worker_task = asyncio.create_task(_first_to_end(self._runs))

    def _join_stack_ray(self) -> None:
        """Run actions on the Ray head of this folder's ``keel up``, when it runs one.

        With ``KEEL_EXECUTOR=ray`` and no ``KEEL_RAY_ADDRESS``, a worker would start a Ray of its
        own; beside a ``keel up`` that runs a head, it joins that one instead, with its token.
        Ray reads its authentication settings from the environment only, hence ``os.environ``.
        """
        if self.settings.executor != "ray" or self.settings.ray_address:
            return
        joined = ray_join_env(Path(self.settings.home).expanduser().resolve())
        if joined is not None:
            address, env = joined
            os.environ.update(env)
            self.settings = self.settings.model_copy(update={"ray_address": address})

    def _known_address(self) -> str | None:
        if self.settings.temporal_address:
            return self.settings.temporal_address
        if self.server is None:
            info = StackInfo.live(Path(self.settings.home).expanduser().resolve())
            if info is not None and _reachable(info.address):
                return info.address
        return None

    def _secrets(self) -> SecretsProvider:
        if self.secrets is not None:
            return self.secrets
        if self.settings.secrets_file:
            return FileSecrets(Path(self.settings.secrets_file))
        return NoSecrets()

    async def close(self) -> None:
        """Stop the worker, the executor and the server this stack started."""
        if self._worker is not None and self._worker_task is not None:
            for worker in (self._worker, self._orchestrator):
                if worker is not None:
                    with contextlib.suppress(Exception):
                        await worker.shutdown()
            with contextlib.suppress(BaseException):
                await self._worker_task
            await asyncio.gather(*self._runs, return_exceptions=True)  # each shut down above
            self._runs = []
            self._worker = None
            self._orchestrator = None
        if self._executor is not None:
            await self._executor.close()
            self._executor = None
        if self.server is not None:
            await self.server.stop()
            self.server = None


async def _first_to_end(tasks: list[asyncio.Task[None]]) -> None:
    """End (with its error) as soon as one of the workers' ``run()`` tasks ends."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()


def _reachable(address: str) -> bool:
    """Return whether something listens at ``host:port`` (a quick TCP connect)."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False
