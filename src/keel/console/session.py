"""Signing in to the console: the API key in a cookie, and the CSRF defence of its buttons.

The key is kept in an HTTP-only cookie (scripts cannot read it) with ``SameSite=Strict`` (no other
site's page can make the browser send it), ``Secure`` when the console is served over HTTPS. Every
state-changing request must also carry the page's CSRF token (derived from the key, so it needs no
server-side session) and, when the browser sends one, an ``Origin`` of the console's own host.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "keel_console_key"
#: The form field and the header (htmx sends it) that carry the CSRF token.
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: Longest API key accepted at sign-in (keys are far shorter; this only bounds the input).
MAX_KEY_LENGTH = 512
#: How long the browser keeps the sign-in (seconds).
COOKIE_MAX_AGE = 12 * 3600


def signed_in_key(request: Request) -> str | None:
    """Return the API key the request's cookie carries, if any (checked by the API on use)."""
    key = request.cookies.get(COOKIE)
    return key if key and len(key) <= MAX_KEY_LENGTH else None


def csrf_token(key: str) -> str:
    """Return the CSRF token of pages shown to the holder of ``key``."""
    return hmac.new(key.encode(), b"keel-console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(request: Request, key: str, submitted: str | None) -> bool:
    """Return whether a state-changing request is the console's own, not a forged one."""
    if not same_origin(request):
        return False
    token = submitted or request.headers.get(CSRF_HEADER) or ""
    return hmac.compare_digest(token, csrf_token(key))


def same_origin(request: Request) -> bool:
    """Return False when the browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Old browsers send no Origin on same-origin POSTs; the token still has to match.
        return origin is None and request.headers.get("sec-fetch-site") in (None, "same-origin")
    return urlsplit(origin).netloc == request.headers.get("host", "")


def remember(response: Response, request: Request, key: str) -> None:
    """Set the sign-in cookie on ``response``."""
    response.set_cookie(
        COOKIE,
        key,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def forget(response: Response) -> None:
    """Remove the sign-in cookie."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
