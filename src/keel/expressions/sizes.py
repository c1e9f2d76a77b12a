"""Estimates of how large a value's text will be, made before the text is built.

``str()`` of a list, an f-string of a dict or ``FN.format('{}', x)`` build the whole text at once;
a list holding one long string 3,000 times renders to gigabytes. Walking the value first, and
stopping as soon as the estimate passes the limit, makes refusing such a value cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def rendered_length(value: Any, limit: int, on_item: Callable[[], None] | None = None) -> int:
    """Estimate ``len(repr(value))``, stopping once the estimate passes ``limit``.

    Strings count their characters plus quotes (escapes can make the real text somewhat longer,
    which a size check of the result catches); numbers their digits; containers their items and
    separators. ``on_item`` is called for every item walked, so a caller can charge the walk.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if on_item is not None:
            on_item()
        if isinstance(item, str | bytes):
            total += len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 3 // 10 + 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 32
        if total > limit:
            return total
    return total


def deeper_than(value: Any, limit: int) -> bool:
    """Tell whether lists and objects nest in ``value`` more than ``limit`` levels deep.

    Iterative, so a value too deep for Python's stack is measured too.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
