"""The HTTP edge: uvicorn's options for every Keel API server, and read timeouts for slow clients.

uvicorn times out idle keep-alive connections but not a client that sends its request slowly:
half-sent headers, or a body trickled a byte at a time, hold a connection (and a task) for as
long as the client likes. :class:`TimedH11Protocol` is uvicorn's own h11 protocol with two
deadlines added: a request's headers must arrive within ``KEEL_API_HEADER_TIMEOUT`` seconds of
its first byte (or of the connection), and its body within ``KEEL_API_BODY_TIMEOUT`` seconds of
its headers; a late client's connection is closed.

Proxy headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are honoured only from the proxies in
``KEEL_API_TRUSTED_PROXIES``; by default from nobody, so a client cannot pass a webhook's IP
allowlist by claiming another address (uvicorn's own default trusts loopback).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from keel.config import Settings, get_settings

#: Largest request head (request line + headers) accepted, in bytes (h11's default is 16 KiB).
MAX_HEAD_BYTES = 64 * 1024


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines for receiving a request's headers and its body.

    The deadlines come from the process's settings (``KEEL_API_HEADER_TIMEOUT``,
    ``KEEL_API_BODY_TIMEOUT``): uvicorn builds a protocol per connection from the class alone,
    and in a server of several processes each process reads the same settings.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.header_timeout = settings.api_header_timeout
        self.body_timeout = settings.api_body_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: str = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header deadline as soon as a client connects (it may send nothing)."""
        super().connection_made(transport)
        self._arm("headers", self.header_timeout)

    def data_received(self, data: bytes) -> None:
        """Feed uvicorn, then move the deadline along with the request's progress."""
        if not self._waiting_for and self.conn.their_state is h11.IDLE:
            self._arm("headers", self.header_timeout)  # the first byte of a next request
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY and self._waiting_for == "headers":
            self._arm("body", self.body_timeout)
        elif state is not h11.IDLE and state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in (or the connection is ending)

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, what: str, seconds: float) -> None:
        self._disarm()
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = ""

    def _expired(self) -> None:
        """Close the connection of a client that did not send its request in time."""
        self._deadline = None
        self._waiting_for = ""
        if not self.transport.is_closing():
            self.transport.close()


def trusted_proxies(settings: Settings) -> list[str]:
    """Return the addresses/networks whose ``X-Forwarded-*`` headers are believed (maybe none)."""
    return [part.strip() for part in settings.api_trusted_proxies.split(",") if part.strip()]


def server_options(settings: Settings) -> dict[str, Any]:
    """Return the uvicorn options every Keel API server uses (``keel api``, ``ApiServer``).

    The protocol is named by its import path: a server of several processes pickles its
    options for each process it spawns.
    """
    proxies = trusted_proxies(settings)
    return {
        "http": f"{TimedH11Protocol.__module__}:{TimedH11Protocol.__name__}",
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "timeout_keep_alive": 5,
        "server_header": False,
    }
