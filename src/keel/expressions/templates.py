"""Templates: strings holding ``${{ }}`` expressions, evaluated typed or interpolated.

A string that is exactly one expression (whitespace around it allowed) evaluates to the value
itself, keeping its type; any other string has each expression rendered into it. A template is
split and compiled once (cached by its text), so evaluating it again only runs closures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from keel.errors import ExpressionError
from keel.expressions.casts import render_text
from keel.expressions.clock import CLOCK
from keel.expressions.evaluator import Compiled, Scope, compile_expression, located, run
from keel.expressions.scanner import OPEN, expressions


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template.

    Attributes:
        parts: Literal text and ``(expression, compiled)`` pairs, in order.
        single: The one expression when the template is exactly one (its value keeps its type).
    """

    parts: tuple[str | tuple[str, Compiled], ...]
    single: tuple[str, Compiled] | None


#: Longer texts are compiled every time rather than kept in the cache (a cache of 4096 huge
#: strings would be a memory leak).
CACHE_LIMIT = 10_000


def compile_template(text: str) -> Template:
    """Split ``text`` into literal text and compiled expressions, cached by the text.

    Raises:
        ExpressionError: An expression does not parse or compile, or a ``${{`` is not closed.
    """
    return _compile(text) if len(text) > CACHE_LIMIT else _cached(text)


@lru_cache(maxsize=4096)
def _cached(text: str) -> Template:
    return _compile(text)


def _compile(text: str) -> Template:
    parts: list[str | tuple[str, Compiled]] = []
    pos = 0
    for span in expressions(text):
        if span.start > pos:
            parts.append(text[pos : span.start])
        parts.append((span.expression, compile_expression(span.expression)))
        pos = span.end
    if pos < len(text):
        parts.append(text[pos:])
    found = [part for part in parts if isinstance(part, tuple)]
    alone = len(found) == 1 and all(isinstance(p, tuple) or not p.strip() for p in parts)
    return Template(tuple(parts), found[0] if alone else None)


def render(template: Template, scope: Scope) -> Any:
    """Evaluate a compiled template: the value itself when typed, else the interpolated text."""
    if template.single is not None:
        expression, compiled = template.single
        return run(compiled, expression, scope)
    pieces: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            pieces.append(part)
            continue
        expression, compiled = part
        value = run(compiled, expression, scope)
        try:
            pieces.append(render_text(value))
        except ExpressionError as exc:
            raise located(exc, expression) from None
    return "".join(pieces)


def evaluate_text(text: str, scope: Scope) -> Any:
    """Evaluate one template string; text without ``${{`` (or not text) is returned as it is."""
    if not isinstance(text, str) or OPEN not in text:
        return text
    return render(compile_template(text), scope)


def evaluate_tree(value: Any, scope: Scope) -> Any:
    """Evaluate every string inside dicts, lists and tuples (dict keys stay literal)."""
    if isinstance(value, str):
        return evaluate_text(value, scope)
    if isinstance(value, Mapping):
        return {key: evaluate_tree(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate_tree(item, scope) for item in value]
    if isinstance(value, tuple):
        return tuple(evaluate_tree(item, scope) for item in value)
    return value


def iter_strings(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Yield ``(path, text)`` for every string inside dicts, lists and tuples (keys and indexes).

    The one walk over argument structures that the validator (to check templates), the engine
    (to find templates that must wait for secrets) and the child launcher share.
    """
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(item, (*path, key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from iter_strings(item, (*path, i))


def has_expression(value: Any) -> bool:
    """Return whether ``value`` (a string, or strings inside dicts/lists/tuples) has a ``${{``."""
    if isinstance(value, str):
        return OPEN in value
    if isinstance(value, Mapping):
        return any(has_expression(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(has_expression(item) for item in value)
    return False


@contextmanager
def clock_set(clock: Callable[[], datetime] | None) -> Iterator[None]:
    """Make ``clock`` the clock of ``FN.now`` and friends inside the block (when given)."""
    if clock is None:
        yield
        return
    token = CLOCK.set(clock)
    try:
        yield
    finally:
        CLOCK.reset(token)
