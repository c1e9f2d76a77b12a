"""An httpcore network backend on asyncio's own transports, for the HTTP actions' connections.

httpcore reaches asyncio through anyio: every read and write of a request passes anyio's cancel
scopes (``fail_after``), its async-library detection and its typed attribute lookups, which cost
about 0.12 ms of CPU per loopback POST here (measured: ~520 against ~400 µs per request on a bare
httpcore pool, ~850 against ~660 µs through httpx). This backend connects with
``loop.create_connection`` and keeps a small :class:`asyncio.Protocol` per connection: data the
transport receives is buffered until httpcore reads it, a write goes straight to the transport.

It carries bytes only; HTTP itself (requests, responses, keep-alive) stays httpcore's and h11's.
Timeouts, errors and back-pressure keep httpcore's contract: a read or write that outlasts its
timeout raises ``ReadTimeout``/``WriteTimeout``, a broken connection ``ReadError``/``WriteError``,
a refused one ``ConnectError``; reading pauses while more than :data:`READ_HIGH_WATER` bytes wait
unread, so a large response is held in memory no more than with anyio's streams.

Connections are opened to whatever host the caller gives: the SSRF guard
(:class:`keel.actions.egress.GuardedBackend`) wraps this backend and passes checked addresses only.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any, cast

import httpcore

#: Unread bytes past which the transport stops reading from the socket (resumed below LOW).
READ_HIGH_WATER = 256 * 1024
READ_LOW_WATER = 64 * 1024


class _Connection(asyncio.Protocol):
    """The protocol of one connection: buffers what arrives, wakes the reader, tracks writes."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: Exception | None = None
        self.reading_paused = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's transport: asyncio's own, or uvloop's (which does not subclass
        # asyncio.Transport but has the same methods), so no isinstance check here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close the transport: HTTP/1.1 has no use for a half-closed connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    async def readable(self) -> None:
        """Wait until there is data to read, or the end of the connection."""
        if self.buffer or self.eof:
            return
        self._readable = asyncio.get_running_loop().create_future()
        try:
            await self._readable
        finally:
            self._readable = None

    @property
    def write_blocked(self) -> bool:
        """Whether the transport's write buffer is over its limit (writers should wait)."""
        return self._writable is not None

    async def writable(self) -> None:
        """Wait while the transport's write buffer is over its limit."""
        if self._writable is not None:
            await asyncio.shield(self._writable)

    def _wake_reader(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    def _wake_writer(self) -> None:
        waiter, self._writable = self._writable, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection (plain or TLS) as httpcore reads and writes it.

    Args:
        connection: The connection's protocol, its transport already made.
    """

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return up to ``max_bytes`` received bytes; ``b""`` once the server closed."""
        conn = self._connection
        if not conn.buffer and not conn.eof:
            try:
                async with asyncio.timeout(timeout):
                    await conn.readable()
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data within {timeout} s") from None
        if not conn.buffer:
            if conn.error is not None:
                raise httpcore.ReadError(str(conn.error) or type(conn.error).__name__)
            return b""
        if len(conn.buffer) <= max_bytes:  # the usual case: take it all, copied once
            data = bytes(conn.buffer)
            conn.buffer.clear()
        else:
            data = bytes(conn.buffer[:max_bytes])
            del conn.buffer[:max_bytes]
        if conn.reading_paused and len(conn.buffer) < READ_LOW_WATER:
            conn.reading_paused = False
            assert conn.transport is not None
            conn.transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send ``buffer`` (handed to the transport; waits only while its buffer is full)."""
        if not buffer:
            return
        conn = self._connection
        transport = conn.transport
        if transport is None or transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        transport.write(buffer)
        if conn.write_blocked:
            try:
                async with asyncio.timeout(timeout):
                    await conn.writable()
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not send within {timeout} s") from None
        if conn.error is not None:
            raise httpcore.WriteError(str(conn.error) or type(conn.error).__name__)

    async def aclose(self) -> None:
        """Close the connection (TLS shuts down in the background, as asyncio does it)."""
        if self._connection.transport is not None:
            self._connection.transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade the connection to TLS, verifying ``server_hostname`` as the context says."""
        conn = self._connection
        assert conn.transport is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                tls = await loop.start_tls(
                    conn.transport, conn, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            conn.transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake not done within {timeout} s") from None
        except (OSError, ssl.SSLError) as exc:
            conn.transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if tls is None:  # the server closed the connection during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(tls, asyncio.Transport)
        conn.transport = tls
        return self

    def get_extra_info(self, info: str) -> Any:
        """Answer httpcore's questions: TLS object, addresses, socket, and ``is_readable``."""
        conn = self._connection
        transport = conn.transport
        if info == "is_readable":
            # httpcore asks this of an idle keep-alive connection: readable then means closed.
            return bool(conn.buffer) or conn.eof
        if transport is None:
            return None
        name = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }.get(info)
        return transport.get_extra_info(name) if name is not None else None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections with ``loop.create_connection`` (see the module docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to ``host:port``; asyncio sets ``TCP_NODELAY`` on the socket itself."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, conn = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock: socket.socket | None = transport.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(conn)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refuse: the HTTP actions connect over TCP only (the guard refuses sockets first)."""
        raise httpcore.ConnectError(f"Unix sockets are not supported ({path})")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop (httpcore's connect retries use it)."""
        await asyncio.sleep(seconds)
