"""``core.http_paginate``: call an HTTP API page after page, collecting the items.

Tracecat's semantics: each page is one ``core.http_request`` (same arguments, the same SSRF
guard and errors); ``stop_condition`` and ``next_request`` are ``python_lambda`` sources that
receive the page's ``{status_code, headers, data}``. ``stop_condition`` says when to stop;
``next_request`` returns what changes for the next page (``url``, ``method``, ``headers``,
``params``, ``payload``, ``form_data``; a key left out keeps its value). With
``items_jsonpath`` the result is the items it selects on each page, flattened, at most
``limit`` of them; without, it is the list of page responses, at most ``limit`` pages.

Keel bounds the walk: at most ``max_pages`` requests; a walk that reaches it before
``stop_condition`` holds (or ``limit`` is met) fails saying so, rather than looping forever.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any

from jsonpath_ng.ext.parser import parse as parse_jsonpath

from keel.actions.builtin.http import (
    Auth,
    Headers,
    Method,
    Params,
    Payload,
    Timeout,
    Url,
    VerifySsl,
    http_request,
)
from keel.actions.registry import action
from keel.actions.schema import Doc
from keel.errors import KeelError
from keel.expressions.lambdas import compile_lambda

#: The request fields ``next_request`` may change.
REQUEST_FIELDS = ("url", "method", "headers", "params", "payload", "form_data")


class PaginationError(KeelError):
    """A pagination walk could not go on (a bad lambda result, or ``max_pages`` reached)."""


@action("core.http_paginate", title="HTTP paginate")
async def http_paginate(
    url: Url,
    stop_condition: Annotated[
        str,
        Doc("A lambda over the page ({status_code, headers, data}): true stops the walk."),
    ],
    next_request: Annotated[
        str,
        Doc(
            "A lambda over the page returning what changes for the next request: a mapping "
            "of url, method, headers, params, payload, form_data."
        ),
    ],
    method: Method = "GET",
    *,
    headers: Headers = None,
    params: Params = None,
    payload: Payload = None,
    form_data: Annotated[dict[str, Any] | None, Doc("A form-encoded body.")] = None,
    auth: Auth = None,
    timeout: Timeout = 10.0,
    follow_redirects: Annotated[bool, Doc("Follow 3xx redirects.")] = False,
    max_redirects: Annotated[int, Doc("Most redirects followed.")] = 20,
    verify_ssl: VerifySsl = True,
    items_jsonpath: Annotated[
        str | None, Doc("JSONPath to each page's items (on data); the result is the items.")
    ] = None,
    limit: Annotated[int, Doc("Most items (or pages, without items_jsonpath) returned.")] = 1000,
    max_pages: Annotated[int, Doc("Most requests made (Keel's bound).")] = 100,
) -> list[Any]:
    """Call an HTTP API page after page; return the items (or the pages) collected.

    Raises:
        PaginationError: ``next_request`` returned something else than a mapping, or
            ``max_pages`` requests were made before the walk ended.
    """
    stop = compile_lambda(stop_condition)
    following = compile_lambda(next_request)
    request: dict[str, Any] = {
        "url": url,
        "method": method,
        "headers": headers,
        "params": params,
        "payload": payload,
        "form_data": form_data,
    }
    results: list[Any] = []
    pages = 0
    while len(results) < limit:
        if pages >= max_pages:
            raise PaginationError(
                f"core.http_paginate made {max_pages} requests (max_pages) and stop_condition "
                "never held: raise max_pages or check the lambdas"
            )
        pages += 1
        page = await http_request(
            request["url"],
            request["method"],
            headers=request["headers"],
            params=request["params"],
            payload=request["payload"],
            form_data=request["form_data"],
            auth=auth,
            timeout=timeout,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
            verify_ssl=verify_ssl,
        )
        if items_jsonpath is None:
            results.append(page)
        else:
            results.extend(_items(items_jsonpath, page["data"])[: limit - len(results)])
        if len(results) >= limit or stop(page):
            break
        changes = following(page)
        if not isinstance(changes, Mapping):
            raise PaginationError(
                f"next_request must return a mapping of {', '.join(REQUEST_FIELDS)}; "
                f"it returned {type(changes).__name__}"
            )
        request.update({k: v for k, v in changes.items() if k in REQUEST_FIELDS})
    return results


def _items(path: str, data: Any) -> list[Any]:
    """Return what ``path`` selects on a page's data, as a list (a list body is the items)."""
    if not isinstance(data, dict):
        return list(data) if isinstance(data, list) else []
    matches = [match.value for match in _compiled(path).find(data)]
    if len(matches) == 1 and isinstance(matches[0], list):
        return list(matches[0])
    return matches


@functools.lru_cache(maxsize=128)
def _compiled(path: str) -> Any:
    text = path if path.startswith("$") else f"$.{path}"
    try:
        return parse_jsonpath(text)
    except Exception as exc:  # jsonpath-ng raises its own errors and plain Exceptions alike
        raise PaginationError(f"items_jsonpath {path!r} does not parse: {exc}") from exc
