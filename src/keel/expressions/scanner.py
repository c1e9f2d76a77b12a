"""Finding the ``${{ ... }}`` expressions inside a string.

The closing ``}}`` is the first one outside string literals and outside braces the expression
opened itself, so ``${{ 'a}}b' }}`` and ``${{ {'k': {'n': 1}} }}`` are one expression each. When
that finds no end (an unbalanced quote, say), the first plain ``}}`` closes the expression, so the
parser can report what is wrong inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from keel.errors import ExpressionSyntaxError

OPEN = "${{"
CLOSE = "}}"
_CACHE_LIMIT = 10_000  # longer texts are scanned every time rather than kept in the cache


@dataclass(frozen=True, slots=True)
class Span:
    """One expression in a template: its inner text and where the ``${{ ... }}`` starts and ends."""

    expression: str
    start: int
    end: int


def scan(text: str) -> tuple[tuple[Span, ...], int | None]:
    """Return the expressions of ``text`` and the offset of an unclosed ``${{`` (or None)."""
    if OPEN not in text:
        return (), None
    return _scan(text) if len(text) > _CACHE_LIMIT else _scan_cached(text)


@lru_cache(maxsize=4096)
def _scan_cached(text: str) -> tuple[tuple[Span, ...], int | None]:
    return _scan(text)


def _scan(text: str) -> tuple[tuple[Span, ...], int | None]:
    spans: list[Span] = []
    pos = text.find(OPEN)
    while pos >= 0:
        inner = pos + len(OPEN)
        end = _closing(text, inner)
        if end < 0:
            return tuple(spans), pos
        spans.append(Span(text[inner:end].strip(), pos, end + len(CLOSE)))
        pos = text.find(OPEN, end + len(CLOSE))
    return tuple(spans), None


def expressions(text: str) -> tuple[Span, ...]:
    """Return the expressions of ``text``.

    Raises:
        ExpressionSyntaxError: A ``${{`` is never closed.
    """
    spans, unclosed = scan(text)
    if unclosed is not None:
        fragment = text[unclosed : unclosed + 40]
        raise ExpressionSyntaxError(
            f"'${{{{' at offset {unclosed} is never closed by '}}}}'", fragment
        )
    return spans


def _closing(text: str, start: int) -> int:
    depth = 0
    quote = ""
    i = start
    size = len(text)
    while i < size:
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "}" and depth == 0 and text.startswith(CLOSE, i):
            return i
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        i += 1
    return text.find(CLOSE, start)
