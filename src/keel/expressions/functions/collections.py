"""FN functions on lists: membership, set algebra (order kept), flattening, zipping and ranges.

Set-like functions return lists in order of first appearance and accept unhashable items (objects,
lists), which are compared by value.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_int, expect_list, type_name

#: Most items ``range`` and ``iter_product`` may build.
MAX_ITEMS = 1_000_000


@dataclass(frozen=True)
class _ByValue:
    """A hashable stand-in for an unhashable item (an object or a list), compared by its JSON."""

    text: str


def _key(item: Any) -> Any:
    try:
        hash(item)
    except TypeError:
        try:
            return _ByValue(json.dumps(item, sort_keys=True, default=repr))
        except (TypeError, ValueError):
            return _ByValue(repr(item))
    return item


def _unique(items: Iterable[Any], exclude: Iterable[Any] = ()) -> list[Any]:
    seen = {_key(item) for item in exclude}
    result = []
    for item in items:
        key = _key(item)
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def _collection(fname: str, value: Any) -> Any:
    if not isinstance(value, list | tuple | dict | str):
        raise TypeError(f"{fname} expects a list, an object or a string, got {type_name(value)}")
    return value


def _member(fname: str, item: Any, collection: Any) -> bool:
    container = _collection(fname, collection)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise TypeError(
                f"{fname} can only look for a string in a string, got {type_name(item)}"
            )
        return item in container
    if isinstance(container, dict):
        return _key(item) in {_key(k) for k in container}
    return _key(item) in {_key(x) for x in container}


@fn("contains", "is_in")
def contains(item: Any, collection: Any) -> bool:
    """Tell whether an item is in a list (a key in an object, a substring of a string)."""
    return _member("contains", item, collection)


@fn("does_not_contain", "not_in", "is_not_in")
def does_not_contain(item: Any, collection: Any) -> bool:
    """Tell whether an item is not in a list (a key in an object, a substring of a string)."""
    return not _member("does_not_contain", item, collection)


@fn("contains_any_of")
def contains_any_of(collection: Any, items: list[Any]) -> bool:
    """Tell whether the collection contains at least one of the items."""
    values = expect_list("contains_any_of", items, "a list of items")
    return any(_member("contains_any_of", item, collection) for item in values)


@fn("contains_none_of")
def contains_none_of(collection: Any, items: list[Any]) -> bool:
    """Tell whether the collection contains none of the items."""
    values = expect_list("contains_none_of", items, "a list of items")
    return not any(_member("contains_none_of", item, collection) for item in values)


@fn("difference")
def difference(a: list[Any], b: list[Any]) -> list[Any]:
    """Return the distinct items of ``a`` that are not in ``b``."""
    return _unique(expect_list("difference", a), expect_list("difference", b))


@fn("intersection")
def intersection(a: list[Any], b: list[Any], *more: list[Any]) -> list[Any]:
    """Return the distinct items of ``a`` that are in every other list."""
    others = [{_key(x) for x in expect_list("intersection", other)} for other in (b, *more)]
    first = expect_list("intersection", a)
    return _unique(x for x in first if all(_key(x) in other for other in others))


@fn("union")
def union(a: list[Any], b: list[Any], *more: list[Any]) -> list[Any]:
    """Return the distinct items of all the lists, in order of first appearance."""
    lists = [expect_list("union", items) for items in (a, b, *more)]
    return _unique(itertools.chain.from_iterable(lists))


@fn("symmetric_difference")
def symmetric_difference(a: list[Any], b: list[Any]) -> list[Any]:
    """Return the distinct items that are in exactly one of the two lists."""
    first, second = expect_list("symmetric_difference", a), expect_list("symmetric_difference", b)
    return _unique(first, second) + _unique(second, first)


@fn("unique")
def unique(items: list[Any]) -> list[Any]:
    """Drop repeated items, keeping the first of each (objects are compared by value)."""
    return _unique(expect_list("unique", items))


@fn("compact")
def compact(items: list[Any]) -> list[Any]:
    """Drop the None items of a list."""
    return [item for item in expect_list("compact", items) if item is not None]


@fn("drop_nulls")
def drop_nulls(items: list[Any]) -> list[Any]:
    """Drop the None items of a list (the same as ``compact``)."""
    return [item for item in expect_list("drop_nulls", items) if item is not None]


def _flat(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, list | tuple):
            yield from _flat(item)
        else:
            yield item


@fn("flatten")
def flatten(items: list[Any]) -> list[Any]:
    """Flatten nested lists into one list, at any depth."""
    return list(_flat(expect_list("flatten", items)))


@fn("is_empty")
def is_empty(x: Any) -> bool:
    """Tell whether a list, object or string is empty (None counts as empty)."""
    if x is None:
        return True
    return len(_collection("is_empty", x)) == 0


@fn("not_empty", "is_not_empty")
def not_empty(x: Any) -> bool:
    """Tell whether a list, object or string has something in it."""
    if x is None:
        return False
    return len(_collection("not_empty", x)) > 0


@fn("length")
def length(x: Any) -> int:
    """Return the number of items of a list or object, or characters of a string."""
    return len(_collection("length", x))


@fn("at")
def at(seq: Any, index: int) -> Any:
    """Return the item at an index of a list or string (negative counts from the end)."""
    if not isinstance(seq, list | tuple | str):
        raise TypeError(f"at expects a list or a string, got {type_name(seq)}")
    i = expect_int("at", index, "an integer index")
    try:
        return seq[i]
    except IndexError:
        raise IndexError(f"at: index {i} is out of range for a length of {len(seq)}") from None


@fn("zip")
def zip_(*lists: list[Any]) -> list[list[Any]]:
    """Pair up the items of lists by position; stops at the shortest list."""
    return [list(group) for group in zip(*(expect_list("zip", x) for x in lists), strict=False)]


@fn("zip_map")
def zip_map(keys: list[Any], values: list[Any]) -> dict[Any, Any]:
    """Build an object from a list of keys and a list of values of the same length."""
    names, items = expect_list("zip_map", keys), expect_list("zip_map", values)
    if len(names) != len(items):
        raise ValueError(f"zip_map got {len(names)} keys but {len(items)} values")
    for name in names:
        if not isinstance(name, str | int | float | bool) and name is not None:
            raise TypeError(f"zip_map keys must be strings, got {type_name(name)}")
    return dict(zip(names, items, strict=True))


@fn("iter_product")
def iter_product(*lists: list[Any]) -> list[list[Any]]:
    """Return every combination taking one item from each list (the cartesian product)."""
    pools = [expect_list("iter_product", x) for x in lists]
    total = 1
    for pool in pools:
        total *= len(pool)
    if total > MAX_ITEMS:
        raise ValueError(f"iter_product would build {total} items, more than {MAX_ITEMS}")
    return [list(combo) for combo in itertools.product(*pools)]


@fn("range")
def range_(start: int, end: int, step: int = 1) -> list[int]:
    """Return the integers from ``start`` up to (not including) ``end``, by ``step``."""
    first = expect_int("range", start, "an integer start")
    stop = expect_int("range", end, "an integer end")
    by = expect_int("range", step, "an integer step")
    if by == 0:
        raise ValueError("range expects a step other than 0")
    numbers = range(first, stop, by)
    if len(numbers) > MAX_ITEMS:
        raise ValueError(f"range would build {len(numbers)} items, more than {MAX_ITEMS}")
    return list(numbers)
