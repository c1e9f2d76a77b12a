"""What every console page shares: the signed-in request, rendering, and error pages.

A page handler takes :data:`Signed` (the request, its API key and an API client for that key);
a request without a sign-in is sent to the sign-in page (``HX-Redirect`` for htmx requests), and an
API key the API refuses ends the sign-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from keel.console.api_client import ApiCallError, ApiClient, api_client
from keel.console.session import CSRF_FIELD, CSRF_HEADER, csrf_token, forget, signed_in_key

PREFIX = "/ui"
HERE = Path(__file__).parent

templates = Jinja2Templates(directory=HERE / "templates")

#: Status -> the symbol shown beside it, so a status never depends on colour alone.
STATUS_ICONS = {
    "queued": "◷",
    "pending": "◷",
    "unknown": "?",
    "running": "▶",
    "succeeded": "✔",
    "failed": "✖",
    "skipped": "⤼",
    "cancelled": "⊘",
    "terminated": "⊗",
    "timed_out": "⌛",
    "starting": "◷",
    "continued": "↻",
}


class SignInRequiredError(Exception):
    """The request has no sign-in, or the API refused its key."""


@dataclass
class SignedRequest:
    """A console request with its key and a client of the JSON API for that key."""

    request: Request
    key: str
    api: ApiClient

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        """Render ``template`` with ``values`` and what every page needs."""
        return render(self.request, template, status_code, csrf=csrf_token(self.key), **values)


async def signed_request(request: Request) -> AsyncIterator[SignedRequest]:
    """Yield the signed-in request (the dependency behind :data:`Signed`)."""
    key = signed_in_key(request)
    if key is None:
        raise SignInRequiredError
    async with api_client(request.app, key, str(request.base_url)) as api:
        yield SignedRequest(request, key, api)


Signed = Annotated[SignedRequest, Depends(signed_request)]


#: Headers of every console page: only the console's own scripts, styles and forms; never in a
#: frame (no clickjacking of its buttons); not cached (pages show run data).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> Response:
    """Render a template of the console."""
    return templates.TemplateResponse(
        request,
        template,
        {
            "prefix": PREFIX,
            "icons": STATUS_ICONS,
            "csrf_field": CSRF_FIELD,
            "csrf_header": CSRF_HEADER,
            **values,
        },
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


def redirect(url: str, request: Request | None = None) -> Response:
    """Send the browser to ``url`` (after a POST, or an htmx request: ``HX-Redirect``)."""
    if request is not None and request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def install(app: FastAPI) -> None:
    """Install the console's answers to a missing sign-in and to API errors."""

    async def needs_sign_in(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = redirect(f"{PREFIX}/login?next={quote(target, safe='')}", request)
        if isinstance(exc, ApiCallError):
            forget(response)
        return response

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiCallError)
        if exc.status == 401:
            return await needs_sign_in(request, exc)
        status = exc.status if 400 <= exc.status < 600 else 500
        return render(request, "error.html", status, status=status, message=exc.message)

    app.add_exception_handler(SignInRequiredError, needs_sign_in)
    app.add_exception_handler(ApiCallError, api_error)


def when(value: str | None) -> str:
    """Return an ISO time as ``YYYY-MM-DD HH:MM:SS`` UTC (the console's one time format)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def duration(ms: float | None) -> str:
    """Return a duration in milliseconds as ``850 ms``, ``4.2 s`` or ``3 min 5 s``."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(int(ms / 1000), 60)
    return f"{minutes} min {seconds} s"


templates.env.filters["when"] = when
templates.env.filters["duration"] = duration
