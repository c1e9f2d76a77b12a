"""``keel api``: the HTTP API alone, on uvicorn, against Temporal and the store by address.

``--processes N`` runs N server processes behind one port with uvicorn's own multi-process
mode (the socket is bound once and shared; a process that dies is replaced by uvicorn). Each
process builds its app with :func:`keel.processes.service.create_service_app`. The server's edge
(read timeouts for slow clients, proxy headers only from trusted proxies) is
:mod:`keel.api.edge`'s.
"""

from __future__ import annotations

import os

import uvicorn

from keel.api.edge import server_options
from keel.config import Settings
from keel.processes import event_loop
from keel.processes.temporal import temporal_address

#: uvicorn's import path of the app factory.
APP_FACTORY = "keel.processes.service:create_service_app"


def default_api_processes() -> int:
    """Return how many API processes suit this machine: one per four cores, at least one."""
    return max(1, (os.cpu_count() or 1) // 4)


def serve_api(settings: Settings, host: str, port: int, processes: int) -> None:
    """Serve the API on ``host:port`` with ``processes`` server processes until a signal.

    Raises:
        ConfigError: No Temporal is configured or running (checked before binding anything).
    """
    temporal_address(settings)  # fail early and clearly, before uvicorn starts
    loop = event_loop.resolve(settings.event_loop)  # KEEL_EVENT_LOOP, checked before binding
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=processes,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        loop=loop,
        **server_options(settings),
    )
