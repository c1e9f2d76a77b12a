"""A network backend whose connections send a request's headers and body in one write.

httpcore writes an HTTP/1.1 request in two ``send`` calls: the header block, then the body.
The server is woken for each (it reads the headers, waits, reads the body), which on a busy
machine is a second wake-up and scheduling delay per request. :class:`CoalescingStream` holds
one write back until the next write (then sends both at once) or until the connection is read
(the request is complete: httpcore reads the response next), so a request with a body leaves
in one ``send``. Nothing is reordered and nothing is held past a read, so the bytes on the wire
and their order are unchanged; only the number of writes is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import httpcore

#: Writes larger than this are sent at once: coalescing copies, and a big body gains nothing.
HOLD_MAX_BYTES = 64 * 1024


class CoalescingStream(httpcore.AsyncNetworkStream):
    """Wraps a network stream, holding back one small write until the next write or read.

    Args:
        inner: The stream that sends and receives.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._held = b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send ``buffer`` with the held write, or hold it (small, nothing held yet)."""
        if not buffer:
            return
        if self._held:
            buffer, self._held = self._held + buffer, b""
        elif len(buffer) <= HOLD_MAX_BYTES:
            self._held = buffer
            return
        await self._inner.write(buffer, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Send what is held (the request is complete), then read."""
        # What httpcore does with a write error while sending a request: ignore it and read,
        # since a server may close early and still send a well-formed error response.
        with contextlib.suppress(httpcore.WriteError):
            await self._flush(timeout)
        return await self._inner.read(max_bytes, timeout)

    async def aclose(self) -> None:
        """Close the connection; a held write is dropped with it (nobody reads its answer)."""
        self._held = b""
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade to TLS (after sending what is held); the TLS stream coalesces too."""
        await self._flush(timeout)
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return CoalescingStream(tls)

    def get_extra_info(self, info: str) -> Any:
        """Answer as the wrapped stream does (its socket, TLS object, peer address)."""
        return self._inner.get_extra_info(info)

    async def _flush(self, timeout: float | None) -> None:
        if self._held:
            held, self._held = self._held, b""
            await self._inner.write(held, timeout)


class CoalescingBackend(httpcore.AsyncNetworkBackend):
    """Wraps a network backend so every TCP connection it opens is a :class:`CoalescingStream`.

    Args:
        inner: The backend that opens the connections (the SSRF guard's).
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect through the inner backend; wrap the stream."""
        stream = await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return CoalescingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect through the inner backend (the guard refuses Unix sockets)."""
        stream = await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return CoalescingStream(stream)

    async def sleep(self, seconds: float) -> None:
        """Sleep as the inner backend does."""
        await self._inner.sleep(seconds)
