"""A lean HTTP/1.1 client for the webhook scenarios: keep-alive sockets, C-parsed responses.

The benchmark's clients run on the machine they measure. httpx (pure-Python request building,
h11 parsing, anyio streams) cost its process ~1.4 ms of CPU per request: at 8 clients of 202
deliveries the benchmark's own process used ~45% of a core, and its event loop's delays were
counted as Keel's latency (the same deliveries, sent by this client: 202 ack p50 25 -> 8 ms,
rate 280 -> 800/s; bench/RESULTS.md, session 8). A webhook sender is another machine in
production; this client keeps the sender's share of this machine small instead. It sends
requests built once per scenario and parses answers with httptools (the C parser uvicorn uses).

Only what the scenarios need: ``POST`` with a body, keep-alive, ``Content-Length`` bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httptools


class HttpAnswer:
    """One response: its status and body.

    Attributes:
        status_code: The HTTP status.
        content: The body's bytes.
    """

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        """Return the body as text (for error messages)."""
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        """Return the body decoded from JSON."""
        return json.loads(self.content)


class _Reply:
    """httptools' callbacks for one response."""

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.done = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class _ClosedError(ConnectionError):
    """A kept-alive connection was closed by the server before this request got any answer."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> HttpAnswer:
        """Send ``request``; return the answer.

        Raises:
            _ClosedError: The server had closed this (idle) connection: nothing of an answer came.
        """
        self.writer.write(request)
        reply = _Reply()
        parser = httptools.HttpResponseParser(reply)
        received = False
        while not reply.done:
            try:
                data = await self.reader.read(65536)
            except ConnectionResetError as exc:
                if received:
                    raise
                raise _ClosedError from exc
            if not data:
                if received:
                    raise ConnectionError("the server closed the connection mid-answer")
                raise _ClosedError
            received = True
            parser.feed_data(data)
        return HttpAnswer(parser.get_status_code(), b"".join(reply.body))

    def close(self) -> None:
        self.writer.close()


class LeanClient:
    """Keep-alive connections to one ``host:port``, one request at a time on each.

    Args:
        host: The server's host.
        port: The server's port.
        headers: Headers sent with every request (``Authorization``).
    """

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self._headers = "".join(f"{key}: {value}\r\n" for key, value in (headers or {}).items())
        self._idle: list[_Connection] = []

    def request(self, path: str, payload: Any) -> bytes:
        """Return the bytes of a ``POST path`` with ``payload`` as JSON (built once, sent often)."""
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def send(self, request: bytes) -> HttpAnswer:
        """Send a request built by :meth:`request` on an idle connection (or a new one)."""
        connection = self._idle.pop() if self._idle else await self._connect()
        try:
            answer = await connection.exchange(request)
        except _ClosedError:
            connection.close()  # a keep-alive connection the server ended: once more, anew
            connection = await self._connect()
            answer = await connection.exchange(request)
        except BaseException:
            connection.close()  # in an unknown state: never reused
            raise
        self._idle.append(connection)
        return answer

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def aclose(self) -> None:
        """Close every idle connection."""
        for connection in self._idle:
            connection.close()
            with contextlib.suppress(OSError):
                await connection.writer.wait_closed()
        self._idle.clear()
