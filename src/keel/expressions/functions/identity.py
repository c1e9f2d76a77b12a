"""``FN.uuid4``, ``FN.in`` and ``FN.is``: Tracecat's spellings, beside Keel's own functions.

``FN.in(item, collection)`` is ``FN.contains`` (a list item, an object key, a substring).
``FN.is(a, b)`` answers Python's ``a is b`` the way it makes sense for JSON data: true when both
are the same singleton (``None``, ``true``, ``false``), or equal values of the same type (two
equal strings are "the same" text; ``1`` is not ``true`` and ``1`` is not ``1.0``).

``FN.uuid4()`` is random, and replay-stable inside a run: there it comes from the run's own
deterministic generator (:data:`keel.expressions.clock.UUIDS`), so a replay sees the same UUIDs.
"""

from __future__ import annotations

from typing import Any

from keel.expressions.clock import new_uuid
from keel.expressions.functions import fn
from keel.expressions.functions.collections import contains


@fn("uuid4")
def uuid4() -> str:
    """Return a new random UUID (version 4) as text."""
    return str(new_uuid())


@fn("in")
def in_(item: Any, collection: Any) -> bool:
    """Tell whether an item is in a list (a key in an object, a substring of a string)."""
    return contains(item, collection)


@fn("is")
def is_(left: Any, right: Any) -> bool:
    """Tell whether two values are the same: one singleton, or equal values of one type."""
    if left is None or right is None or isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return type(left) is type(right) and bool(left == right)
