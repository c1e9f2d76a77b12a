"""The API app of one ``keel api`` process, built by uvicorn's app factory.

uvicorn imports :func:`create_service_app` in every server process (``keel api --processes N``
spawns N), so each process opens its own resources: the store (migrated if needed; concurrent
migrations are serialised by the store), the secret key, and a Temporal client. They are opened
at the server's lifespan start, inside the process's event loop, and closed at its end.

Where runs start (:meth:`keel.api.state.ServiceState.placement`): a run whose caller waits for
its result (a ``/wait`` webhook) and that needs no activity (pure transforms) starts *eagerly*
in this process, on a workflow-only worker on the orchestration queue, and is finished here in
one workflow task without a round of matching; should it call an activity after all, that goes
to the workers (:mod:`keel.orchestration.placement`): this process never executes an action.
Every other run goes to the workers whole, so adding workers adds capacity for runs that do real
work. An API process that dies loses no accepted run: a run it was orchestrating moves to the
other pollers of the orchestration queue, workers included (README, "Running in production").
Should the orchestrating worker itself stop, :class:`~keel.processes.orchestrator.Orchestration`
restarts it, sending runs to the workers meanwhile and reporting ``degraded`` in ``/health``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from keel import expressions
from keel.api.admission import Admission
from keel.api.app import create_app
from keel.api.state import ServiceState
from keel.api.triggers_sync import install_trigger_hooks
from keel.config import Settings, get_settings
from keel.expressions.limits import configure as configure_limits
from keel.orchestration.worker import build_orchestrator
from keel.processes.heap import freeze_startup_heap
from keel.processes.orchestrator import Orchestration
from keel.processes.temporal import connect_patiently
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.triggers.bounds import InputBounds


class ServiceApp:
    """An ASGI app that opens Keel's resources at lifespan start, then serves the API app.

    The API app (:func:`keel.api.app.create_app`) takes its resources ready-made; this wrapper
    is what lets a server process build them itself, in its own event loop.

    Args:
        settings: The process's settings.
        freeze_heap: The process is this app's own (a ``keel api`` server process): once open,
            keep what its start built out of the garbage collector's walks
            (:mod:`keel.processes.heap`). Off for an app opened inside another program (tests).
    """

    def __init__(self, settings: Settings, *, freeze_heap: bool = False) -> None:
        self.settings = settings
        self.freeze_heap = freeze_heap
        self.app: FastAPI | None = None
        self._database: Database | None = None
        self.orchestration: Orchestration | None = None
        self._state: ServiceState | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the lifespan protocol here, and everything else with the API app."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self.app is None:  # uvicorn serves nothing before the startup completes
            raise RuntimeError("the Keel API was called before its startup completed")
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.open()
                except Exception as exc:  # reported by uvicorn, which then exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def open(self) -> None:
        """Open the store and Temporal, and build the API app over them."""
        settings = self.settings
        self._database = Database.from_settings(settings)
        await self._database.migrate()
        cipher = SecretCipher.from_settings(settings)
        client = await connect_patiently(settings)
        state = ServiceState(
            self._database,
            cipher,
            client,
            settings.task_queue,
            bounds=InputBounds.from_settings(settings),
            outbox_max=settings.outbox_max,
            outbox_lease=settings.outbox_lease_seconds,
            admission=Admission(settings.api_inline_runs, settings.api_inline_hold_seconds),
        )
        if settings.api_orchestration:
            configure_limits(settings.user_code_limits())  # expressions run in workflow tasks
            self.orchestration = Orchestration(
                state, lambda: build_orchestrator(client, settings.task_queue)
            )
            self.orchestration.start()
        install_trigger_hooks(state)
        # Start the runs this process accepts, and sweep up those of API processes that died
        # after answering 202 and before starting them (keel.api.outbox).
        state.relay.start()
        self._state = state
        self.app = create_app(state)
        expressions.prepare()  # not inside the first request that reads an expression
        if self.freeze_heap:
            # Everything this process keeps is built: keep it out of the collector's walks
            # (each full collection walked it all, stalling every request under way).
            freeze_startup_heap()

    async def close(self) -> None:
        """Stop the relay and the orchestrating worker, then close the store.

        The relay hands this process's not yet started runs back first (their leases end), so
        another API process, or this one's restart, starts them at once.
        """
        if self._state is not None:
            await self._state.relay.close()
            self._state = None
        if self.orchestration is not None:
            await self.orchestration.close()
            self.orchestration = None
        if self._database is not None:
            await self._database.dispose()
            self._database = None


def create_service_app() -> Any:
    """Return the ASGI app of one API process (uvicorn's factory: ``factory=True``)."""
    return ServiceApp(get_settings(), freeze_heap=True)
