"""The console's way to the data: the JSON API of the same app, called in process.

Each console request makes its calls through :class:`ApiClient`, an ``httpx`` client over
``ASGITransport`` of the app serving the request, carrying the signed-in user's key and the
browser's own base URL (so URLs the API builds, such as webhook URLs, name the host the browser
used). No socket is opened; the API checks the key and masks values exactly as it does for any
other client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
from starlette.types import ASGIApp

#: How long one API call may take before the page shows an error instead.
CALL_TIMEOUT_SECONDS = 30.0


class ApiCallError(Exception):
    """An API call answered with an error (its status and the API's message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ApiClient:
    """Calls the JSON API with one API key; returns parsed JSON or raises :class:`ApiCallError`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` (``None`` params are left out) and return the JSON body."""
        query = {k: v for k, v in params.items() if v is not None and v != ""}
        return _body(await self._client.get(path, params=query))

    async def post(self, path: str, body: Any = None, **params: Any) -> Any:
        """POST ``body`` as JSON to ``path`` and return the JSON body (or ``None``)."""
        return _body(await self._client.post(path, json=body, params=params or None))


@asynccontextmanager
async def api_client(app: ASGIApp, key: str, base_url: str) -> AsyncIterator[ApiClient]:
    """Yield a client of ``app``'s JSON API that authenticates with ``key``.

    ``base_url`` is never resolved (the transport is the app itself): it is the URL the API
    believes it is served at.
    """
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    async with httpx.AsyncClient(
        transport=transport, base_url=base_url, headers=headers, timeout=CALL_TIMEOUT_SECONDS
    ) as client:
        yield ApiClient(client)


def _body(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        message = response.text
        with suppress(ValueError, KeyError, TypeError):
            message = response.json()["error"]["message"]
        raise ApiCallError(response.status_code, str(message))
    if not response.content:
        return None
    return response.json()
