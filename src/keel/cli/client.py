"""The CLI's client of Keel's HTTP API: base URL and API key from options or settings.

Service commands (``keel apply``, ``keel runs``, ``keel secrets``) are thin: one or a few HTTP
calls each. An error response becomes an :class:`ApiCallError` carrying the server's message,
field and problems, so :func:`keel.cli.main.guarded` prints it as one line; a server that is not
there says how to start one.

Same-folder discovery: with no ``--url`` and no ``KEEL_API_URL``, the commands talk to the
``keel up`` running in this state folder (its ``stack.json`` names the API's URL, whatever its
port), and with no ``--api-key`` and no ``KEEL_API_KEY`` they send the local key that ``keel up``
keeps in the folder (``api.key``, mode 0600), but only to that same API: a remote API always
needs a key of its own.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from keel.config import get_settings
from keel.errors import KeelError
from keel.orchestration.home import StackInfo, read_local_key

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The Keel API (default: KEEL_API_URL, else the `keel up` of this folder, else "
        "http://127.0.0.1:8000).",
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="An API key (default: KEEL_API_KEY, else the local key of this folder's `keel up`).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


class ApiCallError(KeelError):
    """The API refused a request.

    Attributes:
        status: The HTTP status.
        message: The server's message.
        field: The field it concerns, if any.
        problems: The server's list of problems (a refused commit lists each one).
    """

    def __init__(
        self, status: int, message: str, field: str | None, problems: list[dict[str, Any]]
    ) -> None:
        self.status = status
        self.message = message
        self.field = field
        self.problems = problems
        where = f" ({field})" if field else ""
        super().__init__(f"{message}{where} [HTTP {status}]")


class ApiClient:
    """A small synchronous client of the Keel API."""

    def __init__(self, url: str | None = None, api_key: str | None = None) -> None:
        self.url, key = target(url, api_key)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; return the response, or raise :class:`ApiCallError` on an error."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise KeelError(
                f"cannot reach the Keel API at {self.url} ({exc}); start it with `keel up` "
                "or pass --url"
            ) from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body."""
        return self.call(method, path, **kwargs).json()


def target(url: str | None, api_key: str | None) -> tuple[str, str | None]:
    """Return the API URL and key to use: options, then settings, then this folder's ``keel up``."""
    settings = get_settings()
    local = StackInfo.live(settings.home.expanduser().resolve())
    local_url = local.api_url.rstrip("/") if local is not None and local.api_url else None
    if url is None and "api_url" not in settings.model_fields_set and local_url:
        url = local_url
    chosen = (url or settings.api_url).rstrip("/")
    key = api_key if api_key is not None else (settings.api_key or None)
    if key is None and local_url is not None and chosen == local_url:
        key = read_local_key(settings.home.expanduser().resolve())
    return chosen, key


def _error_of(response: httpx.Response) -> ApiCallError:
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or response.reason_phrase or "request failed")
    listed = error.get("problems")
    problems = [p for p in listed if isinstance(p, dict)] if isinstance(listed, list) else []
    field = error.get("field")
    return ApiCallError(
        response.status_code, message, field if isinstance(field, str) else None, problems
    )
