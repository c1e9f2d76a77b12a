"""The parser: expression text to a :mod:`~keel.expressions.nodes` tree, with concise errors.

lark's LALR parser runs with an inline transformer, so nodes are built as rules reduce (no parse
tree, no recursion while parsing), and :func:`parse` caches results by text. A syntax error
becomes one short line: where it is and what was expected, never lark's full dump.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from keel.errors import ExpressionError, ExpressionSyntaxError
from keel.expressions import nodes as n
from keel.expressions.paths import split_path, unquote

# Friendly names for the grammar's named terminals in "expected ..." messages.
_TERMINAL_NAMES = {
    "REF": "a name or path",
    "STRING": "a string",
    "INT": "a number",
    "FLOAT": "a number",
    "COMPARE": "a comparison",
    "ADD": "'+' or '-'",
    "MUL": "'*', '/' or '%'",
    "$END": "the end of the expression",
}
_MAX_EXPECTED = 8
_VALUE_STARTS = {
    "a name or path",
    "a string",
    "a number",
    "'('",
    "'['",
    "'{'",
    "'+' or '-'",
    "'not'",
    "'True'",
    "'False'",
    "'None'",
    "'true'",
    "'false'",
    "'null'",
}
_OPERATORS = {
    "a comparison",
    "'+' or '-'",
    "'*', '/' or '%'",
    "'&&'",
    "'||'",
    "'and'",
    "'or'",
    "'in'",
    "'is'",
    "'not'",
    "'if'",
    "'->'",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@v_args(inline=True)
class _OperatorRules(Transformer[Token, n.Node]):
    """Rules of operators, casts, iterators and indexing."""

    def trailing_cast(self, expr: n.Node, kind: Token) -> n.Node:
        return n.CastNode(str(kind), expr)

    def iterator(self, target: Token, collection: n.Node) -> n.Node:
        return n.IteratorNode(str(target), collection)

    def ternary(self, then: n.Node, condition: n.Node, otherwise: n.Node) -> n.Node:
        return n.TernaryNode(condition, then, otherwise)

    def or_(self, left: n.Node, right: n.Node) -> n.Node:
        return n.LogicNode("||", left, right)

    def and_(self, left: n.Node, right: n.Node) -> n.Node:
        return n.LogicNode("&&", left, right)

    def not_(self, operand: n.Node) -> n.Node:
        return n.NotNode(operand)

    def compare(self, first: n.Node, *rest: Any) -> n.Node:
        pairs = tuple((str(rest[i]), rest[i + 1]) for i in range(0, len(rest), 2))
        return n.CompareNode(first, pairs)

    def in_(self, left: n.Node, right: n.Node) -> n.Node:
        return n.BinaryNode("in", left, right)

    def not_in(self, left: n.Node, right: n.Node) -> n.Node:
        return n.BinaryNode("not in", left, right)

    def is_(self, left: n.Node, right: n.Node) -> n.Node:
        return n.BinaryNode("is", left, right)

    def is_not(self, left: n.Node, right: n.Node) -> n.Node:
        return n.BinaryNode("is not", left, right)

    def binary(self, left: n.Node, op: Token, right: n.Node) -> n.Node:
        return n.BinaryNode(str(op), left, right)

    def unary(self, op: Token, operand: n.Node) -> n.Node:
        return n.UnaryNode(str(op), operand)

    def index(self, target: n.Node, key: n.Node) -> n.Node:
        return n.IndexNode(target, key)


@v_args(inline=True)
class _LiteralRules(Transformer[Token, n.Node]):
    """Rules of literals: strings, numbers, constants, lists and objects."""

    def pair(self, key: n.Node, value: n.Node) -> tuple[n.Node, n.Node]:
        return (key, value)

    def string(self, token: Token) -> n.Node:
        return n.Literal(unquote(str(token)))

    def int(self, token: Token) -> n.Node:
        try:
            return n.Literal(int(token))
        except ValueError:  # Python refuses to convert integers of more than 4300 digits
            raise ExpressionSyntaxError(f"number {str(token)[:20]}... is too long") from None

    def float(self, token: Token) -> n.Node:
        return n.Literal(float(token))

    def true(self) -> n.Node:
        return n.Literal(True)

    def false(self) -> n.Node:
        return n.Literal(False)

    def none(self) -> n.Node:
        return n.Literal(None)

    def list(self, *items: n.Node) -> n.Node:
        return n.ListNode(items)

    def dict(self, *pairs: tuple[n.Node, n.Node]) -> n.Node:
        return n.DictNode(pairs)


@v_args(inline=True)
class _Builder(_OperatorRules, _LiteralRules):
    """Builds nodes as the LALR parser reduces rules (one method per aliased rule).

    The rules are grouped in two mixins so no class carries them all; each mixin has its own
    ``v_args`` (lark applies the decorator only to a class's own methods).
    """

    def ref(self, token: Token) -> n.Node:
        text = str(token)
        name = _NAME.match(text)
        end = name.end() if name else 0
        return n.PathNode(text[:end], split_path(text[end:]), text)

    def call(self, callee: Token, args: tuple[n.Node, ...] = ()) -> n.Node:
        name = str(callee)
        if name in n.CASTS:
            if len(args) != 1:
                raise ExpressionError(f"{name}() takes exactly 1 argument ({len(args)} given)")
            return n.CastNode(name, args[0])
        return n.CallNode(name, args)

    def args(self, *items: n.Node) -> tuple[n.Node, ...]:
        return items


@cache
def _lark() -> Lark:
    grammar = resources.files("keel.expressions").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        transformer=_Builder(),
        maybe_placeholders=False,
    )


def prepare() -> None:
    """Build the parser now rather than at the first expression parsed.

    Building it compiles the grammar: ~50-80 ms of CPU, which a long-running process would
    otherwise spend inside its first request or workflow task that reads an expression (an API
    process's event loop stalled that long under the 202 webhook benchmark). A process calls
    this at its start, before it freezes its startup heap (``keel.processes.heap``), so the
    parser's tables are also kept out of the collector's walks.
    """
    _lark()


@lru_cache(maxsize=4096)
def parse(expression: str) -> n.Node:
    """Parse expression text (without ``${{ }}``) into a node tree.

    Raises:
        ExpressionSyntaxError: The text does not parse (the message says where and what was
            expected).
        ExpressionError: The text parses but a construct is malformed (``int(a, b)``).
    """
    if not expression.strip():
        raise ExpressionSyntaxError("empty expression", expression)
    try:
        tree: Any = _lark().parse(expression)
    except UnexpectedInput as exc:
        raise ExpressionSyntaxError(_describe(exc, expression), expression) from None
    except ExpressionError as exc:
        raise type(exc)(exc.detail, expression) from None
    except (LarkError, RecursionError) as exc:
        raise ExpressionSyntaxError(f"cannot parse: {exc}", expression) from None
    node: n.Node = tree
    return node


def _describe(exc: UnexpectedInput, expression: str) -> str:
    column = getattr(exc, "column", -1)
    where = f"at column {column}" if isinstance(column, int) and column > 0 else "at the end"
    if isinstance(exc, UnexpectedCharacters):
        if exc.char in "'\"":
            return f"unterminated string starting {where}"
        found = f"unexpected character {exc.char!r}"
        expected: set[str] = set(exc.allowed or ())
    elif isinstance(exc, UnexpectedEOF):
        found, where = "unexpected end of expression", ""
        expected = set(exc.expected or ())
    else:
        token = getattr(exc, "token", None)
        if token is None or token.type == "$END":
            found, where = "unexpected end of expression", ""
        else:
            found = f"unexpected '{token}'"
        expected = set(getattr(exc, "expected", ()) or ())
    return " ".join(part for part in (found, where) if part) + _expected(expected)


def _expected(terminals: set[str]) -> str:
    """Say what the parser expected, collapsing the many value and operator tokens into words."""
    names = {_terminal_name(name) for name in terminals}
    words = []
    if "REF" in terminals:
        words.append("a value")
        names -= _VALUE_STARTS
    if terminals & {"MUL", "COMPARE"}:
        words.append("an operator")
        names -= _OPERATORS
    if "$END" in terminals:
        names.discard(_TERMINAL_NAMES["$END"])
    listed = words + sorted(names)
    if "$END" in terminals:
        listed.append(_TERMINAL_NAMES["$END"])
    if len(listed) > _MAX_EXPECTED:
        listed = [*listed[:_MAX_EXPECTED], "..."]
    return f"; expected {', '.join(listed)}" if listed else ""


def _terminal_name(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if pattern.type == "str" else name
