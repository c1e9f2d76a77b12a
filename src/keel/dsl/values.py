"""How values from a document or a payload are named in messages ("got str 'abc'")."""

from __future__ import annotations

import json
from typing import Any

_MAX_TEXT = 40


def type_name(value: Any) -> str:
    """Return the Python type name a user sees for ``value`` (``str``, ``dict``, ``NoneType``)."""
    return type(value).__name__


def describe_value(value: Any) -> str:
    """Return ``value`` as a short phrase for messages: its type and a shortened rendering.

    ``None`` is just ``None``; other values read like ``str 'abc'``, ``int 3`` or ``list [1, 2]``.
    """
    if value is None:
        return "None"
    if isinstance(value, str):
        text = repr(value if len(value) <= _MAX_TEXT else value[: _MAX_TEXT - 3] + "...")
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
        if len(text) > _MAX_TEXT:
            text = text[: _MAX_TEXT - 3] + "..."
    return f"{type_name(value)} {text}"
