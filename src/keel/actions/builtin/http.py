"""Core actions that call HTTP APIs: ``core.http_request`` and ``core.http_poll``, on httpx.

Every request, and every redirect hop, passes the SSRF guard of :mod:`keel.actions.egress`
(an httpx request hook, for a clear error naming the URL), and every connection is opened by
the guard itself, to an address it checked (a transport built on
:class:`~keel.actions.egress.GuardedBackend`), so DNS rebinding cannot slip past it;
``KEEL_HTTP_ALLOW_PRIVATE`` is read from the settings at call time. Each call opens its own
client (unless the executor keeps a pool): actions may run on a fresh event loop per call (the
Ray executor), where a shared connection pool cannot follow; the TLS context, the costly part
of a client (about 20 ms), is built once and shared.

A response body is read up to ``KEEL_HTTP_MAX_RESPONSE_BYTES`` (counted after decompression, so
a small compressed body that inflates to gigabytes is refused too); a larger one fails the call
with :class:`HttpResponseTooLargeError` before the rest is read.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal

import certifi
import httpx
from pydantic import BeforeValidator

from keel.actions.connections import CURRENT_POOL, guarded_transport
from keel.actions.egress import EgressError, check_destination
from keel.actions.redaction import redact
from keel.actions.registry import action
from keel.actions.schema import Doc
from keel.config import get_settings
from keel.errors import KeelError
from keel.expressions.lambdas import compile_lambda

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
Url = Annotated[str, Doc("The URL to call.")]
# Methods are matched case-insensitively (Tracecat documents write both `post` and `POST`).
Method = Annotated[
    HttpMethod,
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
    Doc("The HTTP method (any case)."),
]
Headers = Annotated[dict[str, str] | None, Doc("Request headers.")]
Params = Annotated[dict[str, Any] | None, Doc("Query parameters.")]
Payload = Annotated[dict[str, Any] | list[Any] | None, Doc("A JSON body.")]
Auth = Annotated[dict[str, str] | None, Doc("Basic auth: {username, password}.")]
Timeout = Annotated[float, Doc("Seconds to wait for the response.")]
VerifySsl = Annotated[bool, Doc("Verify the server's TLS certificate.")]

#: Characters of a response body quoted in an error message (after redaction).
BODY_EXCERPT = 200
#: What ``core.http_poll`` treats as "not ready yet" by default.
DEFAULT_POLL_RETRY_CODES = (202, 429)


class HttpStatusError(KeelError):
    """A response had an error status (>= 400) that the call did not ask to ignore.

    Attributes:
        status_code: The response's status.
        method: The HTTP method.
        url: The URL of the request that got this response (the last hop, after redirects),
            without its query string or user info (they often carry credentials).
        body: The start of the response body, with the call's secrets redacted.
    """

    def __init__(
        self, message: str, *, status_code: int = 0, method: str = "", url: str = "", body: str = ""
    ) -> None:
        # Keyword arguments with defaults keep the exception picklable (the Ray executor needs it).
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.url = url
        self.body = body


class HttpResponseTooLargeError(KeelError):
    """A response body was larger than ``KEEL_HTTP_MAX_RESPONSE_BYTES``; it was not kept."""


class HttpPollError(KeelError):
    """``core.http_poll`` made all its attempts and the response never became ready."""


@action("core.http_request")
async def http_request(
    url: Url,
    method: Method = "GET",
    *,
    headers: Headers = None,
    params: Params = None,
    payload: Payload = None,
    content: Annotated[str | None, Doc("A raw text body (instead of payload).")] = None,
    form_data: Annotated[dict[str, Any] | None, Doc("A form-encoded body.")] = None,
    files: Annotated[
        dict[str, Any] | None, Doc("Files to upload as multipart: {field: base64 content}.")
    ] = None,
    auth: Auth = None,
    timeout: Timeout = 10.0,
    follow_redirects: Annotated[bool, Doc("Follow 3xx redirects.")] = False,
    max_redirects: Annotated[int, Doc("Most redirects followed.")] = 20,
    ignore_status_codes: Annotated[
        list[int] | None, Doc("Statuses >= 400 that do not fail the action.")
    ] = None,
    verify_ssl: VerifySsl = True,
    base64_encode_data: Annotated[bool, Doc("Return the body base64-encoded.")] = False,
) -> dict[str, Any]:
    """Send an HTTP request; return ``{status_code, headers, data}``.

    ``data`` is the parsed JSON when the response is JSON, else the text. A status >= 400 not in
    ``ignore_status_codes`` fails the action with the status and the body.
    """
    request = _request_args(
        headers=headers,
        params=params,
        payload=payload,
        content=content,
        form_data=form_data,
        files=files,
        auth=auth,
    )
    pool = CURRENT_POOL.get()
    if pool is not None:
        client = pool.get(
            ("http", verify_ssl, max_redirects, get_settings().http_allow_private),
            lambda: _client(
                timeout=timeout,
                verify_ssl=verify_ssl,
                follow_redirects=follow_redirects,
                max_redirects=max_redirects,
            ),
        )
        response = await _send(
            client, method, url, request, timeout=timeout, follow_redirects=follow_redirects
        )
    else:
        async with _client(
            timeout=timeout,
            verify_ssl=verify_ssl,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
        ) as client:
            response = await _send(client, method, url, request)
    return _result(response, ignore_status_codes, base64_encode_data)


@action("core.http_poll")
async def http_poll(
    url: Url,
    method: Method = "GET",
    *,
    headers: Headers = None,
    params: Params = None,
    payload: Payload = None,
    auth: Auth = None,
    timeout: Timeout = 10.0,
    verify_ssl: VerifySsl = True,
    poll_retry_codes: Annotated[
        list[int] | None,
        Doc("Statuses that mean 'not ready yet' (default: 202 and 429)."),
    ] = None,
    poll_condition: Annotated[
        str | None,
        Doc(
            "A python_lambda given the response {status_code, headers, data}; "
            "polling stops when it returns a truthy value."
        ),
    ] = None,
    poll_interval: Annotated[float, Doc("Seconds between attempts.")] = 5.0,
    poll_max_attempts: Annotated[int, Doc("Most attempts before the action fails.")] = 10,
    follow_redirects: Annotated[bool, Doc("Follow 3xx redirects.")] = False,
    ignore_status_codes: Annotated[
        list[int] | None, Doc("Statuses >= 400 that do not fail the action.")
    ] = None,
) -> dict[str, Any]:
    """Repeat an HTTP request until it is ready; return the last ``{status_code, headers, data}``.

    A response is *not ready* when its status is in ``poll_retry_codes`` or ``poll_condition``
    returns a falsy value. After ``poll_max_attempts`` not-ready responses the action fails.
    The ready response is handled like ``core.http_request``'s: a status >= 400 not in
    ``ignore_status_codes`` fails the action. ``poll_condition`` is compiled before the first
    request, so a bad lambda fails at once.
    """
    retry_codes = set(DEFAULT_POLL_RETRY_CODES if poll_retry_codes is None else poll_retry_codes)
    ready: Callable[..., Any] | None = compile_lambda(poll_condition) if poll_condition else None
    attempts = max(poll_max_attempts, 1)
    request = _request_args(headers=headers, params=params, payload=payload, auth=auth)
    client = _client(
        timeout=timeout, verify_ssl=verify_ssl, follow_redirects=follow_redirects, max_redirects=20
    )
    async with client:
        for attempt in range(1, attempts + 1):
            response = await _send(client, method, url, request)
            if response.status_code not in retry_codes:
                result = _result(response, ignore_status_codes, base64_encode_data=False)
                if ready is None or ready(result):
                    return result
            if attempt < attempts:
                await asyncio.sleep(poll_interval)
    status = response.status_code
    why = (
        f"status {status} is in poll_retry_codes {sorted(retry_codes)}"
        if status in retry_codes
        else f"poll_condition {poll_condition!r} was still false on status {status}"
    )
    raise HttpPollError(
        f"{method} {shown_url(httpx.URL(url))} was not ready after {attempts} attempt(s), "
        f"{poll_interval:g} s apart: {why}"
    )


@cache
def _verified_tls() -> ssl.SSLContext:
    """Return the TLS context that verifies certificates, built once per process."""
    return ssl.create_default_context(cafile=certifi.where())  # httpx's default CA bundle


@cache
def _unverified_tls() -> ssl.SSLContext:
    """Return the TLS context of calls with ``verify_ssl: false``, built once per process."""
    return httpx.create_ssl_context(verify=False)


def _client(
    *, timeout: float, verify_ssl: bool, follow_redirects: bool, max_redirects: int
) -> httpx.AsyncClient:
    """Return a client for one call, with the SSRF guard hooked on every request it sends."""
    allow_private = get_settings().http_allow_private

    async def guard(request: httpx.Request) -> None:
        # httpx runs request hooks for each redirect hop too, so every hop is checked.
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        # The display URL is built only if the request is refused (it costs a URL parse).
        check_destination(lambda: shown_url(url), url.host, port, allow_private=allow_private)

    tls = _verified_tls() if verify_ssl else _unverified_tls()
    return httpx.AsyncClient(
        timeout=timeout,
        transport=guarded_transport(tls, allow_private=allow_private),
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        event_hooks={"request": [guard]},
    )


async def _send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    request: dict[str, Any],
    *,
    timeout: float | None = None,
    follow_redirects: bool | None = None,
) -> httpx.Response:
    """Send one request (``request``: :func:`_request_args`) and read its body, bounded.

    Raises:
        HttpResponseTooLargeError: The body is larger than ``KEEL_HTTP_MAX_RESPONSE_BYTES``.
        ForbiddenDestinationError: The SSRF guard refused the request or its connection.
        UnresolvableHostError: The host does not resolve.
    """
    args = dict(request)
    auth = args.pop("auth", None)
    if timeout is not None:
        args["timeout"] = timeout
    built = client.build_request(method, url, **args)
    try:
        response = await client.send(
            built,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            follow_redirects=(
                httpx.USE_CLIENT_DEFAULT if follow_redirects is None else follow_redirects
            ),
            stream=True,
        )
    except EgressError as exc:
        if exc.names_request:
            raise
        # Refused (or not resolved) where the connection is opened, which knows only the host
        # and port: say which request it was (the call's URL; a redirect hop's host is named).
        raise type(exc)(
            f"request {method} {shown_url(built.url)}: {exc}", names_request=True
        ) from exc
    try:
        await _read_bounded(response, get_settings().http_max_response_bytes)
    finally:
        await response.aclose()
    return response


async def _read_bounded(response: httpx.Response, limit: int) -> None:
    """Read ``response``'s body (decoded) into it, failing once it passes ``limit`` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(response, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(response, limit)
        chunks.append(chunk)
    # httpx has no public bounded read; what it keeps after a full read is this attribute.
    response._content = b"".join(chunks)


def _too_large(response: httpx.Response, limit: int) -> HttpResponseTooLargeError:
    request = response.request
    return HttpResponseTooLargeError(
        f"{request.method} {shown_url(request.url)} answered {response.status_code} with a body "
        f"larger than {limit} bytes (KEEL_HTTP_MAX_RESPONSE_BYTES); nothing of it was kept"
    )


def _request_args(
    *,
    headers: dict[str, str] | None,
    params: dict[str, Any] | None,
    payload: dict[str, Any] | list[Any] | None,
    content: str | None = None,
    form_data: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
    auth: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Map the actions' arguments onto ``httpx.AsyncClient.request`` keyword arguments."""
    request: dict[str, Any] = {"headers": headers, "params": params}
    if payload is not None:
        request["json"] = payload
    if content is not None:
        request["content"] = content
    if form_data is not None:
        request["data"] = form_data
    if files:
        request["files"] = {field: (field, base64.b64decode(data)) for field, data in files.items()}
    if auth:
        request["auth"] = (auth.get("username", ""), auth.get("password", ""))
    return request


def _result(
    response: httpx.Response, ignore_status_codes: list[int] | None, base64_encode_data: bool
) -> dict[str, Any]:
    """Return ``{status_code, headers, data}`` for ``response``, or raise for an error status."""
    status = response.status_code
    if status >= 400 and status not in (ignore_status_codes or ()):
        request = response.request
        # Redact before cutting: a cut could leave half a secret the redactor no longer knows.
        body = redact(response.text)
        excerpt = body[:BODY_EXCERPT] + ("..." if len(body) > BODY_EXCERPT else "")
        url = shown_url(request.url)
        raise HttpStatusError(
            f"{request.method} {url} returned {status} {response.reason_phrase}: {excerpt}",
            status_code=status,
            method=request.method,
            url=url,
            body=excerpt,
        )
    return {
        "status_code": status,
        "headers": dict(response.headers),
        "data": _data(response, base64_encode_data),
    }


def shown_url(url: httpx.URL) -> str:
    """Return ``url`` as errors show it: without query, fragment or user info.

    Query strings and user info often carry credentials (``?api_key=...``); the scheme, host,
    port and path are enough to say which call failed.
    """
    return str(url.copy_with(query=None, fragment=None, username=None, password=None))


def _data(response: httpx.Response, base64_encode_data: bool) -> Any:
    """Return the body: parsed JSON when the response says it is JSON, else text (or base64)."""
    if base64_encode_data:
        return base64.b64encode(response.content).decode("ascii")
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:  # a server that mislabels its body: keep the text rather than fail
            return response.text
    return response.text
