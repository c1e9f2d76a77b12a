"""The syntax tree of an expression: small frozen dataclasses, one per construct.

The parser builds these; the evaluator compiles them into closures and the analysis walks them.
:func:`source` prints a node back as expression text, for messages about a part of an expression.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, TypeAlias

from keel.expressions.paths import Path

#: The names a path may start with (``FN`` is only called, never walked).
CONTEXTS = frozenset(
    {"TRIGGER", "ACTIONS", "SECRETS", "VARS", "ENV", "var", "inputs", "steps", "PARENT"}
)
#: The names usable as casts, ``int(x)`` or ``x -> int``.
CASTS = frozenset({"int", "float", "str", "bool"})


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: string, number, boolean or None."""

    value: Any


@dataclass(frozen=True, slots=True)
class ListNode:
    """A list literal ``[a, b]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class DictNode:
    """An object literal ``{'k': v}``."""

    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class PathNode:
    """A context with its path, ``ACTIONS.a.result[0]``; ``text`` is the source."""

    context: str
    path: Path
    text: str


@dataclass(frozen=True, slots=True)
class CallNode:
    """A call ``FN.x(...)`` or ``FN.x.map(...)`` (or a bad one); ``callee`` is the source."""

    callee: str
    args: tuple[Node, ...]

    @property
    def function(self) -> str | None:
        """The FN function name, or None when the callee is not ``FN.<name>[.map]``."""
        parts = self.callee.split(".")
        if parts[0] != "FN" or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "map"):
            return None
        return parts[1] if parts[1].isidentifier() else None

    @property
    def mapped(self) -> bool:
        """Whether this is the broadcasting form ``FN.x.map(...)``."""
        return self.callee.count(".") == 2


@dataclass(frozen=True, slots=True)
class CastNode:
    """A cast ``int(x)`` or a trailing cast ``x -> int``; ``kind`` may be invalid until checked."""

    kind: str
    operand: Node


@dataclass(frozen=True, slots=True)
class UnaryNode:
    """Unary ``-x`` or ``+x``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class BinaryNode:
    """An arithmetic, membership or identity operator: ``+ - * / % in, not in, is, is not``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class CompareNode:
    """A comparison chain ``a < b <= c`` (Python semantics: each pair must hold)."""

    first: Node
    rest: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class LogicNode:
    """``a && b`` or ``a || b``; returns an operand, like Python's ``and``/``or``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class NotNode:
    """``not x``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class TernaryNode:
    """``then if condition else otherwise``."""

    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class IndexNode:
    """Indexing any value, ``FN.split(x, ',')[0]`` or ``(expr)['k']``."""

    target: Node
    index: Node


@dataclass(frozen=True, slots=True)
class IteratorNode:
    """``for var.x in collection`` (only meaningful in ``for_each``); ``target`` is the source."""

    target: str
    collection: Node

    @property
    def var(self) -> str | None:
        """The loop variable's name, or None when the target is not ``var.<name>``."""
        head, _, name = self.target.partition(".")
        return name if head == "var" and name.isidentifier() else None


Node: TypeAlias = (
    Literal
    | ListNode
    | DictNode
    | PathNode
    | CallNode
    | CastNode
    | UnaryNode
    | BinaryNode
    | CompareNode
    | LogicNode
    | NotNode
    | TernaryNode
    | IndexNode
    | IteratorNode
)


def children(node: Node) -> tuple[Node, ...]:
    """Return the direct sub-expressions of ``node``, for walking the tree."""
    match node:
        case ListNode(items) | CallNode(_, items):
            return items
        case DictNode(pairs):
            return tuple(part for pair in pairs for part in pair)
        case CastNode(_, operand) | UnaryNode(_, operand) | NotNode(operand):
            return (operand,)
        case BinaryNode(_, left, right) | LogicNode(_, left, right):
            return (left, right)
        case CompareNode(first, rest):
            return (first, *(item for _, item in rest))
        case TernaryNode(condition, then, otherwise):
            return (then, condition, otherwise)
        case IndexNode(target, index):
            return (target, index)
        case IteratorNode(_, collection):
            return (collection,)
    return ()


def source(node: Node) -> str:
    """Print ``node`` back as expression text (fully parenthesised where it matters)."""
    match node:
        case Literal(value):
            if isinstance(value, float) and math.isinf(value):
                return "1e999"  # what `1e400` parsed into; repr() would print `inf`
            return json.dumps(value) if isinstance(value, str) else repr(value)
        case PathNode(text=text):
            return text
        case ListNode(items):
            return "[" + ", ".join(source(i) for i in items) + "]"
        case DictNode(pairs):
            return "{" + ", ".join(f"{source(k)}: {source(v)}" for k, v in pairs) + "}"
        case CallNode(callee, args):
            return f"{callee}(" + ", ".join(source(a) for a in args) + ")"
        case CastNode(kind, operand):
            return f"{kind}({source(operand)})"
        case UnaryNode(op, operand):
            return f"{op}{_group(operand)}"
        case BinaryNode(op, left, right) | LogicNode(op, left, right):
            return f"{_group(left)} {op} {_group(right)}"
        case CompareNode(first, rest):
            return _group(first) + "".join(f" {op} {_group(item)}" for op, item in rest)
        case NotNode(operand):
            return f"not {_group(operand)}"
        case TernaryNode(condition, then, otherwise):
            return f"{_group(then)} if {_group(condition)} else {_group(otherwise)}"
        case IndexNode(target, index):
            # `True[0]` would lex as a path named True, so a literal target is parenthesised.
            head = f"({source(target)})" if isinstance(target, Literal) else _group(target)
            return f"{head}[{source(index)}]"
        case IteratorNode(target, collection):
            return f"for {target} in {source(collection)}"
    return "?"


def _group(node: Node) -> str:
    simple = isinstance(node, Literal | PathNode | ListNode | DictNode | CallNode | IndexNode)
    return source(node) if simple else f"({source(node)})"
