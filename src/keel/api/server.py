"""Serving the app with uvicorn inside an event loop that does other work too (``keel up``).

``keel up`` runs Temporal's worker and the API in one event loop, so the server is started
programmatically, on a socket bound here (a port in use is a clear error, not uvicorn's
``sys.exit``), and without uvicorn's own signal handling: the caller owns SIGINT/SIGTERM and stops
the server by leaving the context. It has the same edge as ``keel api`` (read timeouts for slow
clients, proxy headers only from trusted proxies: :mod:`keel.api.edge`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from keel.api.edge import server_options
from keel.config import Settings, get_settings
from keel.errors import ConfigError


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to its host process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Install no signal handler: the process that embeds the server handles signals."""
        yield


class ApiServer:
    """The API served on ``host:port`` while the ``async with`` block runs.

    Attributes:
        url: The base URL the API answers on (the real port when ``port`` was 0).
    """

    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 8000,
        settings: Settings | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.host = host
        self.port = port
        self.url = ""
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ApiServer:
        sock = _bind(self.host, self.port)
        port = sock.getsockname()[1]
        self.url = f"http://{_url_host(self.host)}:{port}"
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=5,
            **server_options(self.settings or get_settings()),
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise ConfigError(f"the API server on {self.url} stopped while starting")
            await asyncio.sleep(0.02)
        return self

    @property
    def stopped(self) -> asyncio.Task[None]:
        """Return the server's task (done once the server has stopped)."""
        assert self._task is not None
        return self._task

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every response waits ~40 ms for a delayed ACK (headers and body are two writes).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot serve the API on {host}:{port}: {exc.strerror or exc} "
            "(choose another port with --port or KEEL_API_PORT)"
        ) from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
