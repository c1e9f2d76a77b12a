"""``for_each`` iterators: ``${{ for var.x in <expression> }}``, parsed and zipped into bindings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from keel.errors import ExpressionError
from keel.expressions import nodes as n
from keel.expressions.evaluator import Scope, compile_expression, run
from keel.expressions.parser import parse
from keel.expressions.scanner import expressions

# Once the text parses as an iterator, this splits it into the target and the collection text.
_ITERATOR = re.compile(r"\s*for\s+(\S+)\s+in\s+(.*?)\s*", re.DOTALL)
_SHAPE = "'${{ for var.<name> in <expression> }}'"


@dataclass(frozen=True)
class Iterator:
    """One ``for_each`` iterator: the loop variable's name and the collection's expression."""

    var: str
    expression: str


def parse_for_each(spec: str | Sequence[str]) -> list[Iterator]:
    """Parse a ``for_each`` value (one iterator string or a list of them).

    Raises:
        ExpressionError: A string is not exactly one ``${{ for var.<name> in <expr> }}``, the
            collection does not parse, or a loop variable is bound twice.
    """
    specs = [spec] if isinstance(spec, str) else list(spec)
    iterators = [_parse_one(text) for text in specs]
    seen: set[str] = set()
    for iterator in iterators:
        if iterator.var in seen:
            raise ExpressionError(f"for_each binds 'var.{iterator.var}' twice")
        seen.add(iterator.var)
    return iterators


def _parse_one(text: object) -> Iterator:
    if not isinstance(text, str):
        raise ExpressionError(f"a for_each iterator must be a string {_SHAPE}, not {text!r}")
    spans = expressions(text)
    if len(spans) != 1 or text[: spans[0].start].strip() or text[spans[0].end :].strip():
        raise ExpressionError(f"for_each must be exactly one iterator {_SHAPE}", text)
    inner = spans[0].expression
    node = parse(inner)
    if not isinstance(node, n.IteratorNode):
        raise ExpressionError(f"for_each needs an iterator {_SHAPE}", inner)
    if node.var is None:
        raise ExpressionError(f"the loop variable must be 'var.<name>', not '{node.target}'", inner)
    match = _ITERATOR.fullmatch(inner)
    if match is None:  # cannot happen for text that parsed as an iterator
        raise ExpressionError(f"for_each needs an iterator {_SHAPE}", inner)
    collection = match.group(2)
    compile_expression(collection)
    return Iterator(node.var, collection)


def bindings(iterators: list[Iterator], scope: Scope) -> list[dict[str, object]]:
    """Evaluate each iterator's collection and zip them into per-item ``var`` bindings.

    Raises:
        ExpressionError: A collection is not a list, or the lists have different lengths.
    """
    columns: list[list[object]] = []
    for iterator in iterators:
        value = run(compile_expression(iterator.expression), iterator.expression, scope)
        if not isinstance(value, list | tuple):
            kind = "None" if value is None else type(value).__name__
            raise ExpressionError(
                f"for_each over 'var.{iterator.var}' needs a list, got {kind}",
                iterator.expression,
            )
        columns.append(list(value))
    if len({len(column) for column in columns}) > 1:
        sizes = ", ".join(
            f"'{it.expression}' has {len(col)}" for it, col in zip(iterators, columns, strict=True)
        )
        raise ExpressionError(f"for_each collections have different lengths: {sizes}")
    names = [iterator.var for iterator in iterators]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
