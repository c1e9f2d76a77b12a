"""Core actions that call HTTP APIs: ``core.http_request`` and ``core.http_poll``.

Signatures only for now: the I/O bodies arrive with the engine (issue 3). Registering them
already lets workflows that use them validate, and gives their argument schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from keel.actions.registry import action
from keel.actions.schema import Doc

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
Url = Annotated[str, Doc("The URL to call.")]
Method = Annotated[HttpMethod, Doc("The HTTP method.")]
Headers = Annotated[dict[str, str] | None, Doc("Request headers.")]
Params = Annotated[dict[str, Any] | None, Doc("Query parameters.")]
Payload = Annotated[dict[str, Any] | list[Any] | None, Doc("A JSON body.")]
Auth = Annotated[dict[str, str] | None, Doc("Basic auth: {username, password}.")]
Timeout = Annotated[float, Doc("Seconds to wait for the response.")]
VerifySsl = Annotated[bool, Doc("Verify the server's TLS certificate.")]


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
    raise NotImplementedError("core.http_request runs in the engine; see issue 3")


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
) -> dict[str, Any]:
    """Repeat an HTTP request until it is ready; return the last ``{status_code, headers, data}``.

    A response is *not ready* when its status is in ``poll_retry_codes`` or ``poll_condition``
    returns a falsy value. After ``poll_max_attempts`` not-ready responses the action fails.
    """
    raise NotImplementedError("core.http_poll runs in the engine; see issue 3")
