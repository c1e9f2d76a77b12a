"""Keel's expression language: the ``${{ ... }}`` inside workflow documents.

Design: a lark LALR grammar (``grammar.lark``) parses an expression into a small tree of frozen
dataclasses (:mod:`.nodes`), which the evaluator compiles once into nested closures; both steps
are cached by text, so evaluating the same template again costs only the closure calls. Paths are
split at compile time into simple keys, walked by hand over dict keys and list/string indexes (no
attribute access, ever), and a JSONPath tail handed to ``jsonpath_ng.ext`` only when a path needs
it. Every failure is an :class:`~keel.errors.ExpressionError` naming the expression.

Modules: ``parser`` (text to nodes), ``nodes`` (the tree), ``paths`` (path splitting and walking),
``evaluator`` (compile and run), ``casts`` (casts and printing), ``scanner`` (finding
``${{ }}``), ``templates`` (typed and interpolated templates), ``iterators`` (``for_each``),
``analysis`` (references and static checks), ``clock`` (the deterministic clock), ``functions``
(the ``FN`` library), ``limits`` (the bounds on user code: work, size, time) and ``sizes``
(estimates of a value's text before it is built).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from keel.errors import ExpressionError, ExpressionSyntaxError, PathMissError
from keel.expressions.analysis import FunctionCall, References, check, references
from keel.expressions.evaluator import Scope, compile_expression, run
from keel.expressions.iterators import Iterator, bindings, parse_for_each
from keel.expressions.limits import WorkBudget
from keel.expressions.parser import prepare
from keel.expressions.scanner import scan
from keel.expressions.templates import (
    clock_set,
    evaluate_text,
    evaluate_tree,
    has_expression,
    iter_strings,
)

__all__ = [
    "ExpressionError",
    "ExpressionSyntaxError",
    "FunctionCall",
    "Iterator",
    "PathMissError",
    "References",
    "WorkBudget",
    "check",
    "evaluate",
    "evaluate_expression",
    "evaluate_templates",
    "find_expressions",
    "has_expression",
    "iter_strings",
    "iterate",
    "parse_for_each",
    "prepare",
    "references",
]

MissHandler = Callable[[str], None]
Clock = Callable[[], datetime]


def evaluate(
    template: str,
    context: Mapping[str, Any],
    *,
    strict: bool = False,
    on_miss: MissHandler | None = None,
    clock: Clock | None = None,
    budget: WorkBudget | None = None,
) -> Any:
    """Evaluate a template string against ``context``.

    A string that is exactly one ``${{ }}`` gives the value with its type; other strings have
    each expression rendered into them; a string without ``${{`` comes back unchanged.

    Args:
        template: The text, e.g. ``"${{ ACTIONS.a.result }}"`` or ``"Hi ${{ TRIGGER.name }}"``.
        context: The contexts by name (``TRIGGER``, ``ACTIONS``, ``var``, ...).
        strict: Raise :class:`PathMissError` when a path matches nothing, instead of using None.
        on_miss: Called with the path text of every path that matched nothing.
        clock: The clock ``FN.now``/``utcnow``/``today`` read during this evaluation.
        budget: Work units this evaluation shares with others; by default it gets its own
            ``expression_work`` (see :mod:`keel.expressions.limits`).

    Raises:
        ExpressionError: The template does not parse or cannot be evaluated.
    """
    scope = Scope(context, strict, on_miss, budget)
    if clock is None:  # the common case; skip the context manager
        return evaluate_text(template, scope)
    with clock_set(clock):
        return evaluate_text(template, scope)


def evaluate_templates(
    obj: Any,
    context: Mapping[str, Any],
    *,
    strict: bool = False,
    on_miss: MissHandler | None = None,
    clock: Clock | None = None,
    budget: WorkBudget | None = None,
) -> Any:
    """Evaluate every string inside ``obj`` (dicts, lists, tuples); return a new structure.

    Dict keys stay literal. Arguments as for :func:`evaluate`.
    """
    with clock_set(clock):
        try:
            return evaluate_tree(obj, Scope(context, strict, on_miss, budget))
        except RecursionError:
            raise ExpressionError("the value is nested too deeply to evaluate") from None


def evaluate_expression(
    expr: str,
    context: Mapping[str, Any],
    *,
    strict: bool = False,
    on_miss: MissHandler | None = None,
    clock: Clock | None = None,
    budget: WorkBudget | None = None,
) -> Any:
    """Evaluate a bare expression (no ``${{ }}``), such as ``"TRIGGER.a + 1"``.

    Arguments as for :func:`evaluate`.
    """
    with clock_set(clock):
        return run(compile_expression(expr), expr, Scope(context, strict, on_miss, budget))


def iterate(
    spec: str | Sequence[str],
    context: Mapping[str, Any],
    *,
    strict: bool = False,
    on_miss: MissHandler | None = None,
    clock: Clock | None = None,
    budget: WorkBudget | None = None,
) -> list[dict[str, Any]]:
    """Evaluate a ``for_each`` value and zip its iterators into per-item ``var`` bindings.

    ``${{ for var.x in [1, 2] }}`` gives ``[{"x": 1}, {"x": 2}]``; several iterators zip.

    Raises:
        ExpressionError: An iterator is malformed, a collection is not a list, or the
            collections have different lengths.
    """
    iterators = parse_for_each(spec)
    with clock_set(clock):
        return bindings(iterators, Scope(context, strict, on_miss, budget))


def find_expressions(text: str) -> list[str]:
    """Return the inner text of every complete ``${{ ... }}`` in ``text``, in order."""
    spans, _ = scan(text)
    return [span.expression for span in spans]
