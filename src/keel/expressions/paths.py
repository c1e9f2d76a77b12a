"""Paths after a context name: split once into simple keys and a JSONPath tail, then walked.

Almost every path in a workflow is simple (``ACTIONS.a.result.items[0].name``). Those keys are
walked here by hand, over dict keys and list/string indexes only, which is both fast and safe: a
path never reaches an attribute of a Python object. From the first segment that needs JSONPath
(``[*]``, ``..name``, ``[?filter]``, a slice or a backtick function) the rest of the path is
handed to ``jsonpath_ng.ext``, whose parse is cached.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from keel.errors import ExpressionError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
# One simple segment: `.name`, `.'quoted'`, `["quoted"]`, `[0]`, `.[0]`. Anything else is JSONPath.
_SIMPLE = re.compile(
    rf"\.(?P<name>{_NAME})|\.(?P<dotquoted>{_QUOTED})"
    rf"|\.?\[\s*(?:(?P<index>-?\d+)|(?P<quoted>{_QUOTED}))\s*\]",
    re.DOTALL,
)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}

_MISSING: Any = object()


def unquote(text: str) -> str:
    """Return the value of a quoted string literal with Python's escapes (unknown ones stay)."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "ux" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, match.group(0))

    return _ESCAPE.sub(replace, text[1:-1])


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path.

    Attributes:
        keys: The leading simple segments: ``str`` dict keys and ``int`` indexes.
        texts: The source text of each key, to report how far a path resolved.
        tail: The rest, as JSONPath text starting with ``$``, or None when the path is simple.
        plural: Whether the tail always gives a list (it has a wildcard, filter, slice or union).
    """

    keys: tuple[str | int, ...]
    texts: tuple[str, ...]
    tail: str | None
    plural: bool


@lru_cache(maxsize=4096)
def split_path(text: str) -> Path:
    """Split the path text after a context name (``.a[0]['b'][*].c``) into a :class:`Path`."""
    keys: list[str | int] = []
    texts: list[str] = []
    pos = 0
    while pos < len(text):
        match = _SIMPLE.match(text, pos)
        if match is None:
            break
        if match["name"] is not None:
            keys.append(match["name"])
        elif match["index"] is not None:
            keys.append(int(match["index"]))
        else:
            keys.append(unquote(match["dotquoted"] or match["quoted"]))
        texts.append(match.group(0))
        pos = match.end()
    if pos == len(text):
        return Path(tuple(keys), tuple(texts), None, False)
    rest = text[pos:]
    tail = "$" + rest
    plural = bool(re.search(r"\*|\[\s*\?|:|,", _strip_quotes(rest)))
    return Path(tuple(keys), tuple(texts), tail, plural)


def _strip_quotes(text: str) -> str:
    return re.sub(rf"{_QUOTED}|`[^`]*`", "''", text)


@lru_cache(maxsize=1024)
def jsonpath(tail: str) -> Any:
    """Return the compiled ``jsonpath_ng.ext`` expression for ``tail`` (``$...``), cached.

    Raises:
        ExpressionError: The tail is not valid JSONPath.
    """
    from jsonpath_ng.ext.parser import parse

    try:
        # Tracecat-era syntax (`&` in filters, bare words as operands) is deprecated in
        # jsonpath-ng and warns; it still works and workflows use it, so stay quiet.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return parse(tail)
    except Exception as exc:  # jsonpath-ng raises several unrelated types for bad input
        raise ExpressionError(f"invalid path '{tail[1:]}': {exc}") from None


def walk(value: Any, keys: tuple[str | int, ...]) -> tuple[Any, int]:
    """Follow ``keys`` from ``value``; return ``(result, -1)`` or ``(MISSING, index of the miss)``.

    Only dict keys and list/string indexes are followed, never attributes.
    """
    for i, key in enumerate(keys):
        if isinstance(key, str):
            # Run contexts are plain dicts: test for one first, as the ABC check costs more.
            if type(value) is dict or isinstance(value, Mapping):
                value = value.get(key, _MISSING)
                if value is _MISSING:
                    return _MISSING, i
                continue
            return _MISSING, i
        if isinstance(value, list | str | tuple) and -len(value) <= key < len(value):
            value = value[key]
            continue
        return _MISSING, i
    return value, -1


def find(tail: str, plural: bool, value: Any) -> Any:
    """Apply a JSONPath tail to ``value``: a list when plural or several match, else the match.

    Returns :data:`MISSING` when a non-plural tail matches nothing.

    Raises:
        ExpressionError: The tail is invalid or one of its functions failed.
    """
    compiled = jsonpath(tail)
    try:
        matches = [match.value for match in compiled.find(value)]
    except Exception as exc:  # a backtick function applied to the wrong type, for instance
        raise ExpressionError(f"path '{tail[1:]}' failed: {exc}") from None
    if plural or len(matches) > 1:
        return matches
    return matches[0] if matches else _MISSING


MISSING: Any = _MISSING
