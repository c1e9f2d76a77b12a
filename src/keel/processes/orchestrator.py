"""The workflow-only worker of a ``keel api`` process, kept running.

An API process orchestrates the ``/wait`` runs that need no activity on a worker of its own
(:func:`keel.orchestration.worker.build_orchestrator`). Should that worker stop (the SDK ends a
worker on an error it cannot retry, such as a namespace that went away), the process must not
keep offering eager starts to a worker that is gone, nor look healthy: the
:class:`Orchestration` keeps the worker running, restarting it with a growing pause, and while
it is down it sets :attr:`ServiceState.orchestration` to ``restarting`` (so
:attr:`ServiceState.orchestrates` is false and runs go to the workers, which poll the
orchestration queue too), which ``GET /health`` reports as ``degraded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from keel.api.state import ServiceState

log = logging.getLogger(__name__)

#: Seconds before the first restart; doubled after each failed run, up to :data:`MAX_PAUSE`.
FIRST_PAUSE = 0.5
#: The longest pause between two restarts.
MAX_PAUSE = 30.0
#: A worker that ran this many seconds before stopping starts again after :data:`FIRST_PAUSE`.
STEADY_SECONDS = 60.0


class PollingWorker(Protocol):
    """What :class:`Orchestration` needs of a worker: ``temporalio.worker.Worker``'s life."""

    async def run(self) -> None:
        """Poll until shut down; raise on a fatal error."""

    async def shutdown(self) -> None:
        """Stop polling and wait for the tasks under way."""


class Orchestration:
    """Runs an API process's orchestrating worker and restarts it when it stops.

    Args:
        state: The API's state: its ``orchestration`` follows the worker.
        build: Makes a new worker (a worker that ended cannot run again).
        first_pause: Seconds before the first restart (tests shorten it).
    """

    def __init__(
        self,
        state: ServiceState,
        build: Callable[[], PollingWorker],
        *,
        first_pause: float = FIRST_PAUSE,
    ) -> None:
        self._state = state
        self._build = build
        self._first_pause = first_pause
        self._worker: PollingWorker | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.restarts = 0

    @property
    def worker(self) -> PollingWorker | None:
        """The worker running now (``None`` between a stop and its restart)."""
        return self._worker

    def start(self) -> None:
        """Start the worker and its keeper in the running event loop."""
        self._set(running=True)
        self._task = asyncio.create_task(self._keep(), name="keel-orchestration")

    async def close(self) -> None:
        """Stop the worker (finishing the workflow tasks under way) and its keeper."""
        self._closing = True
        self._state.orchestration = None
        if self._worker is not None:
            with contextlib.suppress(Exception):
                await self._worker.shutdown()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await self._task
        self._task = self._worker = None

    async def _keep(self) -> None:
        pause = self._first_pause
        loop = asyncio.get_running_loop()
        while not self._closing:
            self._worker = self._build()
            began = loop.time()
            try:
                await self._worker.run()
                problem = "it stopped"
            except Exception as exc:  # the SDK's reason; reported, then the worker restarts
                problem = f"{type(exc).__name__}: {exc}"
            self._worker = None
            if self._closing:
                return
            self._set(running=False)
            if loop.time() - began >= STEADY_SECONDS:
                pause = self._first_pause
            log.error(
                "the API's orchestrating worker ended (%s); runs go to the workers meanwhile, "
                "restarting it in %.1f s",
                problem,
                pause,
            )
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
            self.restarts += 1
            self._set(running=True)

    def _set(self, *, running: bool) -> None:
        self._state.orchestration = "running" if running else "restarting"
