"""HTTP clients shared by the actions one executor runs, and closed with it.

Opening an ``httpx.AsyncClient`` and a fresh connection for every ``core.http_request`` costs
about 2 ms on loopback (measured: 2.8 ms per call against 0.9 ms on a reused client). An executor
that lives for a whole worker (the in-process one) installs a :class:`ClientPool` in
:data:`CURRENT_POOL` around each call, so HTTP actions reuse keep-alive connections; the pool is
closed when the executor closes. Where no pool is installed (a Ray task runs on a short-lived
event loop), actions open and close their own client per call.

A pooled client serves every run of the worker, so it keeps no cookies: a session cookie that one
run's server set must never be sent on another run's request.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpcore
import httpx
from httpcore import AsyncConnectionInterface

from keel.actions.coalescing import CoalescingBackend
from keel.actions.egress import GuardedBackend, Resolver


class _NoCookieJar(CookieJar):
    """A cookie jar that stores no cookie (see the module docstring).

    httpx hands every response to its client's jar; a jar that refuses by policy still parses
    each response's headers and builds urllib request objects first (measured ~7% of a
    loopback call's CPU), so this one does nothing at all: nothing is ever stored, so nothing
    is ever sent.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        """Ignore the cookies a response sets."""

    def set_cookie(self, cookie: Cookie) -> None:
        """Store nothing, whoever asks."""


class _NoCookies(httpx.Cookies):
    """A client's cookies that never extracts any from a response (see :class:`_NoCookieJar`).

    httpx builds urllib request and response stand-ins for the jar on every response before the
    jar is even asked (measured ~1% of a ``keel worker``'s Python CPU in the I/O webhook run);
    with a jar that stores nothing, there is nothing to extract them for.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        """Ignore the cookies a response sets."""


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore's connection pool, skipping its cleanup step when there is nothing to clean.

    After each request, and again when its response is closed, the pool closes the
    connections it dropped inside an anyio cancel scope shielded from cancellation; it builds
    that scope (asking sniffio which async library runs, anyio which backend) even when no
    connection is to be closed, which is nearly always (measured ~2% of a worker's Python CPU
    in the I/O webhook run). A non-empty list is closed exactly as httpcore closes it.
    """

    async def _close_connections(self, closing: list[AsyncConnectionInterface]) -> None:
        if closing:
            await super()._close_connections(closing)


class ClientPool:
    """Long-lived ``httpx.AsyncClient`` objects, one per configuration key; they keep no cookies."""

    def __init__(self) -> None:
        self._clients: dict[Hashable, httpx.AsyncClient] = {}

    def get(self, key: Hashable, factory: Callable[[], httpx.AsyncClient]) -> httpx.AsyncClient:
        """Return the client for ``key``, creating it with ``factory`` the first time."""
        client = self._clients.get(key)
        if client is None or client.is_closed:
            client = self._clients[key] = factory()
            # httpx offers no public way to give a client a Cookies subclass.
            client._cookies = _NoCookies(_NoCookieJar())
        return client

    async def aclose(self) -> None:
        """Close every client (their connections with them)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


#: The pool of the executor running the current action, if it keeps one.
CURRENT_POOL: ContextVar[ClientPool | None] = ContextVar("keel_http_client_pool", default=None)


def guarded_transport(
    ssl_context: ssl.SSLContext, *, allow_private: bool, resolver: Resolver | None = None
) -> httpx.AsyncHTTPTransport:
    """Return an httpx transport whose connections go only to addresses the SSRF guard checked.

    httpx builds its connection pool without a way to pass a network backend, so the pool is
    rebuilt here around :class:`~keel.actions.egress.GuardedBackend`, with httpx's defaults.
    The transport connects directly: proxy environment variables are not used, so the guard
    always sees the address a request really goes to.

    Args:
        ssl_context: The TLS context (verifying, or not when a call turns verification off).
        allow_private: Allow loopback, private and reserved addresses.
        resolver: How names are looked up (the system's resolver when None).
    """
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False)
    limits = httpx.Limits()
    transport._pool = _Pool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        # One write per request (headers with body): see keel.actions.coalescing.
        network_backend=CoalescingBackend(
            GuardedBackend(allow_private=allow_private, resolver=resolver)
        ),
    )
    return transport
