"""HTTP clients shared by the actions one executor runs, and closed with it.

Opening an ``httpx.AsyncClient`` and a fresh connection for every ``core.http_request`` costs
about 2 ms on loopback (measured: 2.8 ms per call against 0.9 ms on a reused client). An executor
that lives for a whole worker (the in-process one) installs a :class:`ClientPool` in
:data:`CURRENT_POOL` around each call, so HTTP actions reuse keep-alive connections; the pool is
closed when the executor closes. Where no pool is installed (a Ray task runs on a short-lived
event loop), actions open and close their own client per call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar

import httpx


class ClientPool:
    """Long-lived ``httpx.AsyncClient`` objects, one per configuration key."""

    def __init__(self) -> None:
        self._clients: dict[Hashable, httpx.AsyncClient] = {}

    def get(self, key: Hashable, factory: Callable[[], httpx.AsyncClient]) -> httpx.AsyncClient:
        """Return the client for ``key``, creating it with ``factory`` the first time."""
        client = self._clients.get(key)
        if client is None or client.is_closed:
            client = self._clients[key] = factory()
        return client

    async def aclose(self) -> None:
        """Close every client (their connections with them)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


#: The pool of the executor running the current action, if it keeps one.
CURRENT_POOL: ContextVar[ClientPool | None] = ContextVar("keel_http_client_pool", default=None)
