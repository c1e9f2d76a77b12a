"""A size limit on API request bodies (``KEEL_MAX_BODY_BYTES``), before any route reads one.

The management routes read their whole body (JSON or YAML) into memory, so an unbounded body
is an unbounded allocation. This ASGI middleware refuses a declared ``Content-Length`` over the
limit at once, and otherwise reads the body as it arrives, refusing it with 413 as soon as it
grows past the limit; a body within the limit is handed to the app unchanged. Webhooks are left
alone: they stream their body against their own ``max_body_bytes`` (itself capped by the same
setting, see :func:`keel.triggers.webhook.receive`), after their secret check.

FastAPI's own ``max_body_size`` is not used: its 413 says only "Content Too Large" (this one
names the limit and its setting), and a route cannot opt out of it, while a webhook must check
its secret (a 404 for a wrong URL, whatever the body) before judging the body.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keel.api.errors import error_body

#: Paths whose bodies are bounded elsewhere.
_OWN_LIMIT = "/webhooks/"


class BodyLimit:
    """ASGI middleware: a 413 for any request body over ``limit()`` bytes.

    Args:
        app: The app to protect.
        limit: Returns the limit in bytes (read per request, so a test or a reload can change it).
    """

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, or answer 413 when its body is over the limit."""
        if scope["type"] != "http" or scope["path"].startswith(_OWN_LIMIT):
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # a disconnect: let the app see it
            size += len(message.get("body", b""))
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            # The buffered body first, then whatever the server says next (a disconnect).
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _too_large(limit: int) -> JSONResponse:
    message = f"the request body is larger than the limit of {limit} bytes (KEEL_MAX_BODY_BYTES)"
    return JSONResponse(error_body(message, "body"), status_code=413)
