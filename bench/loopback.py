"""A loopback HTTP server for the I/O scenarios: answers every request at once with JSON.

It runs in a process of its own (``python -m bench.loopback``), so it neither queues behind the
benchmarked worker's event loop nor competes with it for the GIL, as a real remote service would
not. It speaks just enough HTTP/1.1 for ``httpx``: a request line, headers, a
``Content-Length`` body, keep-alive. The reply echoes the request's JSON body as
``{"echo": <body>}`` (``null`` when there is none), so chained calls can depend on each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from types import TracebackType
from typing import Self

_MAX_HEADER = 64 * 1024


class LoopbackServer:
    """The server in a child process on ``127.0.0.1`` and a free port; a (sync) context manager."""

    def __init__(self) -> None:
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the child process; return once it listens (it prints its port)."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.loopback"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())

    def stop(self) -> None:
        """Stop the child process."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Handler:
    """The serving side, run in the child process."""

    def __init__(self) -> None:
        self.requests = 0
        self._server: asyncio.Server | None = None

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                if len(head) > _MAX_HEADER:
                    return
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                self.requests += 1
                try:
                    echo = json.loads(body) if body else None
                except ValueError:
                    echo = body.decode(errors="replace")
                data = json.dumps({"echo": echo}).encode()
                close = headers.get("connection", "").lower() == "close"
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(data)}\r\n".encode()
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\n"
                    + data
                )
                await writer.drain()
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


async def _main() -> None:
    handler = _Handler()
    port = await handler._listen()
    print(port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
