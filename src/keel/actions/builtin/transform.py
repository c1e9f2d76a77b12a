"""Core actions that reshape data: ``core.transform.*``.

Lambdas (``python_lambda``) run in Keel's restricted interpreter
(:func:`keel.expressions.lambdas.compile_lambda`), never through ``eval``.
"""

from __future__ import annotations

import functools
import json as jsonlib
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from jsonpath_ng.ext.parser import parse as parse_jsonpath

from keel.actions import seen_keys
from keel.actions.registry import action
from keel.actions.schema import Doc
from keel.expressions.lambdas import compile_lambda, lambda_for_items

Lambda = Annotated[str, Doc("A lambda as a string, e.g. \"lambda x: x['score'] > 5\".")]
#: The longest a seen key is remembered (ten years); beyond it dates overflow.
MAX_EXPIRE_SECONDS = 10 * 365 * 86400

Keys = Annotated[
    list[str], Doc("Keys identifying an item; dots reach nested keys, e.g. ['user.id'].")
]


@action("core.transform.reshape", pure=True)
def reshape(value: Annotated[Any, Doc("The value to return, expressions evaluated.")]) -> Any:
    """Return ``value``: the engine evaluates the expressions in it before the call."""
    return value


@action("core.transform.filter", pure=True)
def filter_items(
    items: Annotated[list[Any], Doc("The items to filter.")], python_lambda: Lambda
) -> list[Any]:
    """Keep the items for which the lambda returns a truthy value."""
    keep = lambda_for_items(python_lambda)
    return [item for item in items if keep(item)]


@action("core.transform.map", pure=True)
def map_items(
    items: Annotated[list[Any], Doc("The items to transform.")], python_lambda: Lambda
) -> list[Any]:
    """Apply the lambda to each item; return the results in order."""
    transform = lambda_for_items(python_lambda)
    return [transform(item) for item in items]


@action("core.transform.apply", pure=True)
def apply(value: Annotated[Any, Doc("The value to transform.")], python_lambda: Lambda) -> Any:
    """Apply the lambda to one value; return its result."""
    return compile_lambda(python_lambda)(value)


@action("core.transform.is_in", pure=True)
def is_in(
    items: Annotated[list[Any], Doc("The items to test.")],
    collection: Annotated[list[Any], Doc("The values to look for.")],
    python_lambda: Annotated[
        str | None, Doc("Maps an item to the value looked up (default: the item itself).")
    ] = None,
) -> list[Any]:
    """Return the items that are in ``collection`` (their lambda value, when one is given)."""
    member = _membership(collection)
    key = _key_function(python_lambda)
    return [item for item in items if member(key(item))]


@action("core.transform.not_in", pure=True)
def not_in(
    items: Annotated[list[Any], Doc("The items to test.")],
    collection: Annotated[list[Any], Doc("The values to look for.")],
    python_lambda: Annotated[
        str | None, Doc("Maps an item to the value looked up (default: the item itself).")
    ] = None,
) -> list[Any]:
    """Return the items that are not in ``collection`` (their lambda value, when one is given)."""
    member = _membership(collection)
    key = _key_function(python_lambda)
    return [item for item in items if not member(key(item))]


@action("core.transform.deduplicate", stateful=True)
async def deduplicate(
    items: Annotated[list[dict[str, Any]] | dict[str, Any], Doc("The objects to deduplicate.")],
    keys: Keys,
    expire_seconds: Annotated[
        int, Doc("How long a seen key is remembered across runs, in seconds.")
    ] = 3600,
    persist: Annotated[
        bool, Doc("Also drop objects this workflow saw in earlier runs (within expire_seconds).")
    ] = True,
) -> list[dict[str, Any]]:
    """Drop objects whose ``keys`` values repeat, here or (``persist``) in earlier runs.

    Within the call, objects with the same values at ``keys`` are merged (later fields win) and
    kept at the position of the first, as Tracecat does. With ``persist``, an object whose keys
    this workflow already saw in another run during the last ``expire_seconds`` is dropped too,
    and the keys of the objects kept are remembered for ``expire_seconds``. A single object is
    treated as a list of one.

    Raises:
        ValueError: An object lacks one of the keys, or ``expire_seconds`` is out of range.
        RuntimeError: ``persist`` is on but no store is available (only outside a worker).
    """
    merged: dict[tuple[str, ...], dict[str, Any]] = {}
    for index, item in enumerate([items] if isinstance(items, dict) else items):
        identity = _identity(item, keys, index)
        merged[identity] = {**merged[identity], **item} if identity in merged else dict(item)
    if not persist:
        return list(merged.values())
    scope = _seen_scope("core.transform.deduplicate", expire_seconds)
    digests = {identity: seen_keys.digest(identity) for identity in merged}
    seen = await scope.seen(digests.values(), expire_seconds)
    return [item for identity, item in merged.items() if digests[identity] not in seen]


@action("core.transform.is_duplicate", stateful=True)
async def is_duplicate(
    item: Annotated[dict[str, Any], Doc("The object to check.")],
    keys: Keys,
    expire_seconds: Annotated[
        int, Doc("How long a seen key is remembered across runs, in seconds.")
    ] = 3600,
) -> bool:
    """Return whether this workflow saw an object with the same ``keys`` values in another run.

    "Another run" means within the last ``expire_seconds``; the object's keys are remembered
    (for ``expire_seconds``) when they were not seen, so the next run finds them.

    Raises:
        ValueError: The object lacks one of the keys, or ``expire_seconds`` is out of range.
        RuntimeError: No store is available (only outside a worker).
    """
    identity = _identity(item, keys, 0)
    scope = _seen_scope("core.transform.is_duplicate", expire_seconds)
    key = seen_keys.digest(identity)
    return key in await scope.seen([key], expire_seconds)


@action("core.transform.flatten_json", pure=True)
def flatten_json(
    json: Annotated[dict[str, Any] | list[Any], Doc("The object or list to flatten.")],
) -> dict[str, Any]:
    """Flatten nested objects and lists into one object with dotted keys (``a.b.0.c``).

    Empty objects and lists are kept as values, so that no key disappears.
    """
    flat: dict[str, Any] = {}
    if json:
        _flatten(json, "", flat)
    return flat


@action("core.transform.eval_jsonpaths", pure=True)
def eval_jsonpaths(
    json: Annotated[dict[str, Any] | list[Any], Doc("The data to query.")],
    jsonpaths: Annotated[
        list[str], Doc("JSONPath expressions, e.g. ['$.user.name', 'items[*].id'].")
    ],
) -> dict[str, Any]:
    """Evaluate each JSONPath on ``json``; return a mapping from each path to what it matched.

    As in expressions, a path with several matches, a wildcard (``*``) or a filter (``[?``)
    gives a list; one match gives the value; none gives ``None``. Paths use the extended syntax
    of ``jsonpath-ng`` (filters, functions); a leading ``$.`` is optional.

    Raises:
        ValueError: A path does not parse.
    """
    results: dict[str, Any] = {}
    for path in jsonpaths:
        matches = [m.value for m in _compiled_path(path).find(json)]
        if len(matches) > 1 or "*" in path or "[?" in path:
            results[path] = matches
        else:
            results[path] = matches[0] if matches else None
    return results


def _membership(collection: Iterable[Any]) -> Callable[[Any], bool]:
    """Return a membership test for ``collection``: a set lookup when its values hash."""
    values = list(collection)
    try:
        lookup = set(values)
    except TypeError:  # unhashable values (objects, lists): compare one by one
        return lambda value: value in values

    def member(value: Any) -> bool:
        try:
            return value in lookup
        except TypeError:
            return value in values

    return member


def _key_function(python_lambda: str | None) -> Callable[[Any], Any]:
    if python_lambda is None:
        return lambda item: item
    return lambda_for_items(python_lambda)


def _seen_scope(action: str, expire_seconds: int) -> seen_keys.SeenScope:
    """Return the running call's seen-keys store, or say why there is none."""
    if not 0 < expire_seconds <= MAX_EXPIRE_SECONDS:
        raise ValueError(
            "expire_seconds must be a positive number of seconds, at most "
            f"{MAX_EXPIRE_SECONDS} (ten years), not {expire_seconds}"
        )
    scope = seen_keys.CURRENT_SEEN.get()
    if scope is None:
        hint = (
            "; pass persist: false to deduplicate within this call only"
            if action == "core.transform.deduplicate"
            else ""
        )
        raise RuntimeError(
            f"{action} remembers keys across runs in Keel's store, and none is available here "
            f"(actions reach it only inside a Keel worker){hint}"
        )
    return scope


def _identity(item: Any, keys: list[str], index: int) -> tuple[str, ...]:
    """Return the hashable identity of ``item``: its values at the dotted ``keys``."""
    values: list[str] = []
    for key in keys:
        value: Any = item
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ValueError(f"item {index} has no key {key!r}")
            value = value[part]
        # JSON text makes any value (objects and lists too) hashable, and keeps 1 apart from "1".
        values.append(jsonlib.dumps(value, sort_keys=True, default=str))
    return tuple(values)


def _flatten(value: Any, prefix: str, flat: dict[str, Any]) -> None:
    children: Iterable[tuple[Any, Any]]
    if isinstance(value, dict) and value:
        children = value.items()
    elif isinstance(value, list) and value:
        children = enumerate(value)
    else:
        flat[prefix] = value
        return
    for key, child in children:
        _flatten(child, f"{prefix}.{key}" if prefix else str(key), flat)


@functools.lru_cache(maxsize=256)
def _compiled_path(path: str) -> Any:
    text = path if path.startswith("$") else f"$.{path}"
    try:
        return parse_jsonpath(text)
    except Exception as exc:  # jsonpath-ng raises its own errors and plain Exceptions alike
        raise ValueError(f"JSONPath {path!r} does not parse: {exc}") from exc
