"""The HTTP edge: uvicorn's options for every Keel API server, and read timeouts for slow clients.

uvicorn times out idle keep-alive connections but not a client that sends its request slowly:
half-sent headers, or a body trickled a byte at a time, hold a connection (and a task) for as
long as the client likes. :class:`TimedHttpToolsProtocol` is uvicorn's httptools protocol (HTTP
parsed in C: 8% less API CPU per 202 webhook delivery than h11's pure Python, bench/RESULTS.md)
with two deadlines added: a request's headers must arrive within ``KEEL_API_HEADER_TIMEOUT``
seconds of its first byte (or of the connection), and its body within ``KEEL_API_BODY_TIMEOUT``
seconds of its headers; a late client's connection is closed. It also bounds a request's head
(request line and headers) to :data:`MAX_HEAD_BYTES`, which the parser itself does not.

Proxy headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are honoured only from the proxies in
``KEEL_API_TRUSTED_PROXIES``; by default from nobody, so a client cannot pass a webhook's IP
allowlist by claiming another address (uvicorn's own default trusts loopback).
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from keel.config import Settings, get_settings

#: Largest request head (request line + headers) accepted, in bytes (httptools sets none).
MAX_HEAD_BYTES = 64 * 1024


class HeadTooLargeError(ValueError):
    """A request's head passed :data:`MAX_HEAD_BYTES` (uvicorn answers 400 and closes)."""


class _Phase(Enum):
    """Where the connection's current request stands."""

    IDLE = 0  # between requests (uvicorn's keep-alive timeout applies), or answering one
    HEAD = 1  # its first bytes came (or the connection opened): headers under way
    BODY = 2  # its headers are in: body under way


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines for a request's headers and body.

    The deadlines come from the process's settings (``KEEL_API_HEADER_TIMEOUT``,
    ``KEEL_API_BODY_TIMEOUT``): uvicorn builds a protocol per connection from the class alone,
    and in a server of several processes each process reads the same settings. The parser's
    callbacks only record the phase; :meth:`data_received` moves the deadline once per chunk, so
    a request that arrives whole in one chunk (the usual case) sets no timer at all.
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
        self._armed_for = _Phase.IDLE
        self._phase = _Phase.HEAD  # a new connection owes its first request's headers
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header deadline as soon as a client connects (it may send nothing)."""
        super().connection_made(transport)
        self._arm(_Phase.HEAD, self.header_timeout)

    def data_received(self, data: bytes) -> None:
        """Feed uvicorn's parser, then move the deadline along with the request's progress."""
        super().data_received(data)
        phase = self._phase
        if phase is _Phase.IDLE:
            if self._deadline is not None:
                self._disarm()  # the whole request is in
        elif phase is not self._armed_for:
            seconds = self.header_timeout if phase is _Phase.HEAD else self.body_timeout
            self._arm(phase, seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    # The parser's callbacks (httptools calls them from feed_data).

    def on_message_begin(self) -> None:
        """A request's first byte: its head is under way."""
        super().on_message_begin()
        self._phase = _Phase.HEAD
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        """Count the request line toward the head's bound."""
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count each header toward the head's bound."""
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is in: the body is under way (if any)."""
        super().on_headers_complete()
        self._phase = _Phase.BODY

    def on_message_complete(self) -> None:
        """The whole request is in."""
        super().on_message_complete()
        self._phase = _Phase.IDLE

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            # Raised inside the parser's callback: httptools turns it into a parse error, which
            # uvicorn answers with 400 and a closed connection.
            raise HeadTooLargeError(f"request head over {MAX_HEAD_BYTES} bytes")

    def _arm(self, phase: _Phase, seconds: float) -> None:
        self._disarm()
        self._armed_for = phase
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._armed_for = _Phase.IDLE

    def _expired(self) -> None:
        """Close the connection of a client that did not send its request in time."""
        self._deadline = None
        self._armed_for = _Phase.IDLE
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
        "http": f"{TimedHttpToolsProtocol.__module__}:{TimedHttpToolsProtocol.__name__}",
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "timeout_keep_alive": 5,
        "server_header": False,
    }
