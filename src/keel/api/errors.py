"""Every API error is JSON that says what is wrong and which field it concerns.

Shape: ``{"error": {"message": str, "field": str | None, "problems": [...]?}}``. Keel's own errors
map to 4xx statuses here, request validation errors to 422 with one problem per bad field, and
anything unexpected to a 500 whose body says so without leaking internals.

The log never gets the request's path: a webhook's path carries its secret. A failed request is
logged as its route template and workflow id (``POST /webhooks/{workflow_id}/{secret}``,
``workflow wf_abc``) in one line, its text with the path's secret redacted; the traceback, bounded,
goes to the debug level only.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError, RPCStatusCode

from keel.actions.redaction import Redactor
from keel.errors import ActionArgumentError, DefinitionError, ExpressionError, KeelError

log = logging.getLogger(__name__)

#: Most stack frames, and characters, of a traceback logged (at debug level) for a 500.
TRACEBACK_FRAMES = 20
TRACEBACK_CHARS = 8000
#: Most characters of an error's text in its one-line log entry.
MESSAGE_CHARS = 500


class ApiError(KeelError):
    """An error with an HTTP status, raised by routes.

    Attributes:
        status: The HTTP status code.
        message: What is wrong.
        field: The request field it concerns, when one does.
        headers: Extra response headers (``WWW-Authenticate`` on a 401).
        extra: Extra members of the error object (``problems``...).
    """

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers
        self.extra = extra


def error_body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return the JSON body of an error response."""
    return {"error": {"message": message, "field": field, **extra}}


def _status_of(exc: KeelError) -> int:
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    name = type(exc).__name__
    if name == "NotFoundError":
        return 404
    if name == "ConflictError":
        return 409
    if name == "DecryptionError":
        return 500  # the server's key is wrong: not the caller's fault, but worth saying
    if isinstance(exc, DefinitionError | ExpressionError | ActionArgumentError):
        return 422
    return 400


def _request_problem(err: Any) -> dict[str, str]:
    """Return ``{"field", "message"}`` for one of FastAPI's request validation errors."""
    loc = [str(part) for part in err.get("loc", ())]
    message = str(err.get("msg", "invalid"))
    if err.get("type") == "json_invalid":
        # FastAPI puts the character position where a field name would be.
        position = loc[1] if len(loc) > 1 else "?"
        return {"field": "body", "message": f"the body is not valid JSON (at position {position})"}
    if loc[:1] == ["body"]:
        loc = loc[1:]
    return {"field": ".".join(loc) or "body", "message": message}


def where(request: Request) -> str:
    """Return a request as logs may name it: method, route template, and the workflow id.

    Never the path itself: ``/webhooks/{workflow_id}/{secret}`` carries the webhook's secret.
    """
    route = request.scope.get("route")
    template = getattr(route, "path", None) or "(no route)"
    text = f"{request.method} {template}"
    workflow = request.path_params.get("workflow_id") or request.path_params.get("ref")
    return f"{text} (workflow {workflow})" if workflow else text


def _hidden(request: Request, text: str) -> str:
    """Return ``text`` without the path's secret (an error may quote the URL it failed on)."""
    secret = request.path_params.get("secret")
    return Redactor([secret]).text(text) if isinstance(secret, str) else text


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a JSON error."""

    @app.exception_handler(KeelError)
    async def keel_error(request: Request, exc: KeelError) -> JSONResponse:
        extra: dict[str, Any] = {}
        headers: dict[str, str] | None = None
        if isinstance(exc, DefinitionError):
            extra["problems"] = [p.to_dict() for p in exc.problems]
        if isinstance(exc, ApiError):
            extra.update(exc.extra)
            headers = exc.headers
        message = getattr(exc, "message", None) or str(exc)
        field = getattr(exc, "field", None)
        return JSONResponse(
            error_body(message, field, **extra), status_code=_status_of(exc), headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_request_problem(err) for err in exc.errors()]
        first = problems[0] if problems else {"field": None, "message": "invalid request"}
        body = error_body(
            f"{first['field']}: {first['message']}", first["field"], problems=problems
        )
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RPCError)
    async def temporal_error(request: Request, exc: RPCError) -> JSONResponse:
        log.warning("Temporal refused %s: %s", where(request), _hidden(request, str(exc)))
        busy = exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
        return JSONResponse(
            error_body(f"Temporal could not serve this request: {exc.message}"),
            status_code=503 if busy else 502,
        )

    app.add_middleware(UnexpectedErrors)


class UnexpectedErrors:
    """ASGI middleware: an unexpected exception becomes a 500 JSON answer and one log line.

    It sits inside Starlette's outermost error middleware, which would otherwise re-raise the
    exception after answering, for the server to log with its whole traceback (uvicorn's
    "Exception in ASGI application": thousands of lines, with texts that may quote the path and
    its webhook secret). Handled here, nothing propagates: the log gets :func:`where` and the
    error's text (the path's secret redacted), and the bounded traceback only at debug level.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; answer and log an unexpected exception instead of raising it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            request = Request(scope)
            text = _hidden(request, str(exc)[:MESSAGE_CHARS])
            log.error("unexpected error on %s: %s: %s", where(request), type(exc).__name__, text)
            if log.isEnabledFor(logging.DEBUG):
                frames = traceback.format_exception(exc, limit=-TRACEBACK_FRAMES, chain=False)
                bounded = _hidden(request, "".join(frames))[-TRACEBACK_CHARS:]
                log.debug("traceback of that error:\n%s", bounded)
            if not started:  # else the client already has a status; the connection just ends
                body = error_body("internal error: the server could not handle this request")
                await JSONResponse(body, status_code=500)(scope, receive, send)
