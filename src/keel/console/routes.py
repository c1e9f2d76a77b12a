"""The console's routes: sign-in, and the workflow and run pages (see their modules).

Mounted by :func:`keel.api.app.create_app`: ``/`` sends the browser to the workflows page, pages
live under ``/ui``, and the vendored assets under ``/ui/static``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from keel.console import run_pages, workflow_pages
from keel.console.api_client import ApiCallError, api_client
from keel.console.pages import HERE, PREFIX, Signed, redirect, render
from keel.console.session import MAX_KEY_LENGTH, csrf_ok, forget, remember, same_origin

router = APIRouter(include_in_schema=False)
router.include_router(workflow_pages.router, prefix=PREFIX)
router.include_router(run_pages.router, prefix=PREFIX)

static_app = StaticFiles(directory=HERE / "static")


@router.get("/")
async def index() -> Response:
    """Send the browser to the console's first page."""
    return redirect(f"{PREFIX}/workflows")


@router.get(f"{PREFIX}/login")
async def login_page(
    request: Request, next: Annotated[str, Query(max_length=2000)] = ""
) -> Response:
    """Show the sign-in form."""
    return render(request, "login.html", next=_local(next), error=None)


@router.post(f"{PREFIX}/login")
async def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=MAX_KEY_LENGTH)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the key against the API and keep it in the sign-in cookie."""
    if not same_origin(request):
        return render(request, "login.html", 403, next="", error="sign-in from another site")
    key = api_key.strip()
    try:
        async with api_client(request.app, key, str(request.base_url)) as api:
            await api.get("/workflows")
    except ApiCallError as exc:
        message = "that API key is not valid" if exc.status == 401 else exc.message
        return render(request, "login.html", 401, next=_local(next), error=message)
    response = redirect(_local(next) or f"{PREFIX}/workflows")
    remember(response, request, key)
    return response


@router.post(f"{PREFIX}/logout")
async def logout(page: Signed, csrf_token: Annotated[str, Form()] = "") -> Response:
    """End the sign-in."""
    if not csrf_ok(page.request, page.key, csrf_token):
        return render(page.request, "error.html", 403, status=403, message="bad CSRF token")
    response = redirect(f"{PREFIX}/login")
    forget(response)
    return response


def _local(target: str) -> str:
    """Return ``target`` if it is a console path (never another site: no open redirect)."""
    ok = target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target
    return target if ok else ""
