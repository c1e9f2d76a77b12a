"""Casts (``int(x)``, ``x -> bool``) and how a value is printed into a string template."""

from __future__ import annotations

import json
import math
from typing import Any

from keel.errors import ExpressionError

#: Strings that ``bool()`` takes as true (any case); every other string is false.
TRUE_STRINGS = frozenset({"true", "1"})


def render_text(value: Any) -> str:
    """Return ``value`` as it appears inside a string template.

    Strings as they are, numbers and booleans as Python prints them, ``None`` as ``None``, and
    lists and objects as compact JSON (so a consumer can parse them back).

    Raises:
        ExpressionError: The value cannot be printed (an integer too long to print).
    """
    if isinstance(value, str):
        return value
    try:
        if isinstance(value, list | dict | tuple):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        return str(value)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ExpressionError(f"cannot print a {type(value).__name__} value: {exc}") from None


def cast(kind: str, value: Any) -> Any:
    """Convert ``value`` with the cast ``kind`` (``int``, ``float``, ``str`` or ``bool``).

    Raises:
        ExpressionError: The value cannot be converted (``int(None)``, ``int('abc')``), or the
            kind is not a cast.
    """
    if kind == "str":
        return render_text(value)
    if kind == "bool":
        if isinstance(value, str):
            return value.strip().lower() in TRUE_STRINGS
        return bool(value)
    if kind not in ("int", "float"):
        raise ExpressionError(f"unknown cast '{kind}': use int, float, str or bool")
    if value is None or not isinstance(value, str | int | float):
        raise ExpressionError(f"cannot cast {_shown(value)} to {kind}")
    try:
        if kind == "float":
            return float(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(value)
        return int(value)
    except (ValueError, OverflowError):
        raise ExpressionError(f"cannot cast {_shown(value)} to {kind}") from None


def _shown(value: Any) -> str:
    if value is None:
        return "None"
    try:
        text = repr(value) if isinstance(value, str | int | float) else type(value).__name__
    except ValueError:  # an integer too long to print
        text = "a very large number"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
