"""FN functions on objects (dicts): lookup, key renaming, merging and flattening."""

from __future__ import annotations

from typing import Any

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_dict, expect_int, expect_list, type_name


@fn("lookup")
def lookup(obj: Any, key: Any, default: Any = None) -> Any:
    """Return ``obj[key]``, or ``default`` (None) when the key is missing or ``obj`` is None.

    A list is looked up by integer index.
    """
    if obj is None:
        return default
    if isinstance(obj, dict):
        try:
            return obj.get(key, default)
        except TypeError:  # an unhashable key cannot be in the object
            return default
    if isinstance(obj, list):
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"lookup in a list expects an integer index, got {type_name(key)}")
        return obj[key] if -len(obj) <= key < len(obj) else default
    raise TypeError(f"lookup expects an object or a list, got {type_name(obj)}")


@fn("map_keys")
def map_keys(obj: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Rename the keys of an object by a ``{old: new}`` mapping; unmapped keys stay as they are."""
    source = expect_dict("map_keys", obj)
    names = expect_dict("map_keys", mapping, "an object mapping old keys to new keys")
    return {names.get(k, k): v for k, v in source.items()}


@fn("merge")
def merge(objs: Any, *more: dict[str, Any]) -> dict[str, Any]:
    """Merge a list of objects into one (later keys win); ``merge(a, b, ...)`` also works."""
    items = [objs, *more] if more or isinstance(objs, dict) else expect_list("merge", objs)
    result: dict[str, Any] = {}
    for item in items:
        result.update(expect_dict("merge", item, "objects"))
    return result


@fn("flatten_dict")
def flatten_dict(x: Any, max_depth: int = 100) -> dict[str, Any]:
    """Flatten nested objects and lists into one object with dotted keys (``a.b.0.c``).

    Empty objects and lists are kept as values.
    """
    if not isinstance(x, dict | list):
        raise TypeError(f"flatten_dict expects an object or a list, got {type_name(x)}")
    limit = expect_int("flatten_dict", max_depth, "an integer max_depth")
    result: dict[str, Any] = {}

    def walk(value: Any, path: str, depth: int) -> None:
        if depth > limit:
            raise ValueError(f"flatten_dict: nesting deeper than {limit} levels at '{path}'")
        if isinstance(value, dict) and value:
            pairs: Any = value.items()
        elif isinstance(value, list) and value:
            pairs = enumerate(value)
        else:
            result[path] = value
            return
        for key, item in pairs:
            walk(item, f"{path}.{key}" if path else str(key), depth + 1)

    if x:
        walk(x, "", 0)
    return result


@fn("to_keys")
def to_keys(obj: dict[str, Any]) -> list[Any]:
    """Return the keys of an object."""
    return list(expect_dict("to_keys", obj))


@fn("to_values")
def to_values(obj: dict[str, Any]) -> list[Any]:
    """Return the values of an object."""
    return list(expect_dict("to_values", obj).values())
