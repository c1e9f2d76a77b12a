"""``keel worker``: a process that runs Keel's workflows and actions from the task queue.

Any number of worker processes, on any number of machines, poll the same task queue of the same
Temporal and share the work: Temporal hands each workflow task and activity to one of them. A
worker whose Temporal worker stops (a fatal error) ends its process with a non-zero code, so the
supervisor that started it (``keel up``, systemd, Kubernetes) starts a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from rich.console import Console

from keel import expressions
from keel.api.catalog import StoreCatalog
from keel.config import Settings
from keel.errors import KeelError
from keel.orchestration.secrets import SecretsProvider
from keel.orchestration.stack import EmbeddedStack
from keel.processes.heap import freeze_startup_heap
from keel.processes.temporal import connect_patiently, temporal_address
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.secrets import StoreSecrets


class WorkerStoppedError(KeelError):
    """The process's Temporal worker stopped on its own (the process exits to be restarted)."""


async def run_worker(settings: Settings, console: Console) -> None:
    """Poll the task queue until SIGINT/SIGTERM, or until the worker fails.

    Raises:
        ConfigError: No Temporal is configured or running.
        WorkerStoppedError: The worker stopped by itself.
    """
    # Join this Temporal by address, waiting for it if it is (re)starting: a worker never starts
    # a dev server of its own, even when the one of its `keel up` is briefly down.
    if settings.worker_nice:
        os.nice(settings.worker_nice)  # Ray workers it starts inherit it
    await connect_patiently(settings)
    settings = settings.model_copy(update={"temporal_address": temporal_address(settings)})
    database = Database.from_settings(settings)
    try:
        async with EmbeddedStack(
            settings,
            secrets=store_secrets(settings, database),
            catalog=StoreCatalog(database),
            orchestration=True,
        ) as stack:
            stop = stop_signals()
            expressions.prepare()  # not inside the first workflow task that reads one
            freeze_startup_heap()  # see keel.processes.heap: fewer, shorter pauses of every run
            console.print(
                f"worker polling task queue '{stack.task_queue}' on {stack.address} "
                f"(executor: {_executor(stack.settings)}); Ctrl-C to stop"
            )
            stopped = stack.worker_task
            await until_signal(stopped, stop)
            if stopped is not None and stopped.done():
                problem = stopped.exception() if not stopped.cancelled() else None
                raise WorkerStoppedError(f"the worker stopped: {problem or 'cancelled'}")
    finally:
        await database.dispose()


def _executor(settings: Settings) -> str:
    if settings.executor == "ray" and settings.ray_address:
        return f"ray at {settings.ray_address}"
    return settings.executor


def store_secrets(
    settings: Settings, database: Database, cipher: SecretCipher | None = None
) -> SecretsProvider | None:
    """Return where workers read ``SECRETS``: the store, unless ``KEEL_SECRETS_FILE`` is set."""
    if settings.secrets_file:
        return None  # the stack reads the file
    return StoreSecrets(database, cipher or SecretCipher.from_settings(settings))


def stop_signals() -> asyncio.Event:
    """Return an event that SIGINT/SIGTERM set from now on (this loop's handlers replace any).

    Installed before a process says it is ready: Ray's core installs a SIGTERM handler of its
    own at ``ray.init`` that exits at once (code 15), skipping the worker's graceful shutdown.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def until_signal(
    stopped: asyncio.Task[None] | None = None, stop: asyncio.Event | None = None
) -> None:
    """Wait for SIGINT/SIGTERM (or for ``stopped`` to end, e.g. a server or worker failing).

    ``stop``: the event of :func:`stop_signals` when the handlers are already installed.
    """
    stop = stop or stop_signals()
    waiter: asyncio.Task[object] = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Task[object]] = {waiter}
    if stopped is not None:
        waiting.add(stopped)
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
