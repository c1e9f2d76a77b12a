"""The grammar: every construct parses to the right tree, with the spec's precedence."""

from __future__ import annotations

from typing import Any

import pytest

from keel.errors import ExpressionError, ExpressionSyntaxError
from keel.expressions import evaluate_expression
from keel.expressions import nodes as n
from keel.expressions.parser import parse


def tree(expr: str) -> str:
    """Print the parsed tree back, fully parenthesised, to compare structure."""
    return n.source(parse(expr))


def value(expr: str, context: dict[str, Any] | None = None) -> Any:
    return evaluate_expression(expr, context or {})


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # loosest first: ternary, ||, &&, not, comparisons, in, is, + -, * / %, unary, indexing
        ("a.x if b.x || c.x else d.x", "a.x if (b.x || c.x) else d.x"),
        ("a.x || b.x && c.x", "a.x || (b.x && c.x)"),
        ("not a.x && b.x", "(not a.x) && b.x"),
        ("not a.x == b.x", "not (a.x == b.x)"),
        ("a.x == b.x in c.x", "a.x == (b.x in c.x)"),
        ("a.x in b.x is c.x", "a.x in (b.x is c.x)"),
        ("a.x is b.x + c.x", "a.x is (b.x + c.x)"),
        ("a.x + b.x * c.x", "a.x + (b.x * c.x)"),
        ("-a.x * b.x", "(-a.x) * b.x"),
        ("-a.x[0]", "-a.x[0]"),
        ("a.x - b.x - c.x", "(a.x - b.x) - c.x"),
        ("a.x / b.x % c.x", "(a.x / b.x) % c.x"),
        ("a.x if b.x else c.x if d.x else e.x", "a.x if b.x else (c.x if d.x else e.x)"),
        ("a.x not in b.x", "a.x not in b.x"),
        ("a.x is not None", "a.x is not None"),
        ("1 < 2 <= 3", "1 < 2 <= 3"),
        ("a.x and b.x or c.x", "(a.x && b.x) || c.x"),
        ("(1 + 2) * 3", "(1 + 2) * 3"),
        ("- - 1", "-(-1)"),
        ("+1", "+1"),
    ],
)
def test_precedence(expr: str, expected: str) -> None:
    assert tree(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\nb\tc'", "a\nb\tc"),
        (r"'\u00e9\x41'", "éA"),
        (r"'\d+'", r"\d+"),  # unknown escapes stay, as in Python (regexes rely on it)
        ("''", ""),
        ("42", 42),
        ("0", 0),
        ("3.5", 3.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("True", True),
        ("False", False),
        ("None", None),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[]", []),
        ("{}", {}),
        ("[1, 'a', None]", [1, "a", None]),
        ("[1, 2,]", [1, 2]),
        ("[[], {}]", [[], {}]),
        ("{'k': 1, \"j\": [2]}", {"k": 1, "j": [2]}),
        ("{'a': {'b': {}}}", {"a": {"b": {}}}),
        ("{1: 'one'}", {1: "one"}),
    ],
)
def test_literals(expr: str, expected: Any) -> None:
    assert value(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("int('42')", 42),
        ("int(3.9)", 3),
        ("int(True)", 1),
        ("float('2.5')", 2.5),
        ("float(2)", 2.0),
        ("str(3)", "3"),
        ("str(True)", "True"),
        ("str(None)", "None"),
        ("str([1, 'a'])", '[1,"a"]'),
        ("str({'a': 1})", '{"a":1}'),
        ("bool('true')", True),
        ("bool('TRUE')", True),
        ("bool('1')", True),
        ("bool('yes')", False),
        ("bool('false')", False),
        ("bool('')", False),
        ("bool(0)", False),
        ("bool([1])", True),
        ("bool(None)", False),
        ("'42' -> int", 42),
        ("1 + 1 -> str", "2"),
        ("'1' -> bool", True),
        ("3 -> float", 3.0),
    ],
)
def test_casts(expr: str, expected: Any) -> None:
    result = value(expr)
    assert result == expected
    assert type(result) is type(expected)


def test_trailing_cast_applies_to_the_whole_expression() -> None:
    assert tree("a.x + 1 -> int") == "int(a.x + 1)"
    assert value("'1' + '2' -> int") == 12


@pytest.mark.parametrize(
    ("expr", "context", "path_keys", "tail"),
    [
        ("TRIGGER", "TRIGGER", (), None),
        ("TRIGGER.a.b", "TRIGGER", ("a", "b"), None),
        ("ACTIONS.a.result[0]", "ACTIONS", ("a", "result", 0), None),
        ("TRIGGER.items[-1]", "TRIGGER", ("items", -1), None),
        ("TRIGGER['user@example.com']", "TRIGGER", ("user@example.com",), None),
        ('TRIGGER["a.b"].c', "TRIGGER", ("a.b", "c"), None),
        (
            "TRIGGER._source.'kibana.alert.rule.name'",
            "TRIGGER",
            ("_source", "kibana.alert.rule.name"),
            None,
        ),
        ('TRIGGER.["a.b"]', "TRIGGER", ("a.b",), None),
        ("TRIGGER.items[ 2 ]", "TRIGGER", ("items", 2), None),
        ("TRIGGER.items[*].name", "TRIGGER", ("items",), "$[*].name"),
        ("TRIGGER..name", "TRIGGER", (), "$..name"),
        ("TRIGGER.a.*", "TRIGGER", ("a",), "$.*"),
        (
            "ACTIONS.u.result[?age >= 30 & age <= 40].name",
            "ACTIONS",
            ("u", "result"),
            "$[?age >= 30 & age <= 40].name",
        ),
        ("TRIGGER.a[?active == true]", "TRIGGER", ("a",), "$[?active == true]"),
        ("TRIGGER.s.`sub(/a/, b)`", "TRIGGER", ("s",), "$.`sub(/a/, b)`"),
        ("TRIGGER.a[1:3]", "TRIGGER", ("a",), "$[1:3]"),
        ("TRIGGER.a[0,2]", "TRIGGER", ("a",), "$[0,2]"),
        ("TRIGGER.a[?(@.x == ']')]", "TRIGGER", ("a",), "$[?(@.x == ']')]"),
        ("TRIGGER.a[?tags[0] == 'x']", "TRIGGER", ("a",), "$[?tags[0] == 'x']"),
        ("PARENT.TRIGGER.x", "PARENT", ("TRIGGER", "x"), None),
        ("PARENT.PARENT.ACTIONS.a.result", "PARENT", ("PARENT", "ACTIONS", "a", "result"), None),
        ("var.item", "var", ("item",), None),
        ("inputs.x", "inputs", ("x",), None),
        ("steps.first.result", "steps", ("first", "result"), None),
        ("SECRETS.github.token", "SECRETS", ("github", "token"), None),
        ("VARS.team.channel", "VARS", ("team", "channel"), None),
        ("ENV.workflow.id", "ENV", ("workflow", "id"), None),
    ],
)
def test_paths_parse_into_keys_and_a_jsonpath_tail(
    expr: str, context: str, path_keys: tuple[Any, ...], tail: str | None
) -> None:
    node = parse(expr)
    assert isinstance(node, n.PathNode)
    assert (node.context, node.path.keys, node.path.tail) == (context, path_keys, tail)


def test_a_bracket_holding_an_expression_is_an_index_not_a_path() -> None:
    node = parse("TRIGGER.items[var.i]")
    assert isinstance(node, n.IndexNode)
    assert n.source(node.target) == "TRIGGER.items"
    assert n.source(node.index) == "var.i"


@pytest.mark.parametrize(
    "expr",
    ["FN.split(TRIGGER.x, ',')[0]", "(TRIGGER.a)[0]", "[1, 2][0]", "{'a': 1}['a']", "'abc'[0]"],
)
def test_any_primary_can_be_indexed(expr: str) -> None:
    assert isinstance(parse(expr), n.IndexNode)


def test_function_calls_and_map() -> None:
    call = parse("FN.add(1, 2)")
    assert isinstance(call, n.CallNode)
    assert (call.function, call.mapped, len(call.args)) == ("add", False, 2)
    mapped = parse("FN.add.map([1, 2], 3)")
    assert isinstance(mapped, n.CallNode)
    assert (mapped.function, mapped.mapped) == ("add", True)
    empty = parse("FN.now()")
    assert isinstance(empty, n.CallNode)
    assert empty.args == ()
    assert isinstance(parse("FN.concat('a', 'b',)"), n.CallNode)


def test_iterator() -> None:
    node = parse("for var.x in TRIGGER.items")
    assert isinstance(node, n.IteratorNode)
    assert node.var == "x"
    assert n.source(node.collection) == "TRIGGER.items"


def test_keywords_are_not_paths_and_paths_may_start_with_keywords() -> None:
    assert parse("not TRIGGER.a") == n.NotNode(parse("TRIGGER.a"))
    assert isinstance(parse("TRIGGER.if"), n.PathNode)
    assert isinstance(parse("TRIGGER.None.True"), n.PathNode)


def test_whitespace_and_newlines_are_ignored() -> None:
    assert value("\n  1 +\n  2\n") == 3


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("1 +", "unexpected end of expression; expected a value"),
        ("(1", "expected ')'"),
        ("1 2", "unexpected '2' at column 3"),
        ("a $ b", "unexpected character '$' at column 3"),
        ("'abc", "unterminated string starting at column 1"),
        ("[1,,2]", "unexpected ',' at column 4"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("1 -> ", "unexpected end of expression"),
        ("TRIGGER.", "unexpected character '.' at column 8"),
    ],
)
def test_syntax_errors_are_concise(expr: str, fragment: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse(expr)
    message = str(caught.value)
    assert fragment in message
    if expr.strip():
        assert f"in expression '{expr}'" in message
    assert len(message) < 250
    assert "Expected one of" not in message  # not lark's dump


def test_a_cast_takes_exactly_one_argument() -> None:
    with pytest.raises(ExpressionError, match=r"int\(\) takes exactly 1 argument \(2 given\)"):
        parse("int(1, 2)")


def test_an_overlong_number_is_a_syntax_error() -> None:
    with pytest.raises(ExpressionSyntaxError, match="too long"):
        parse("9" * 5000)


def test_parse_is_cached() -> None:
    assert parse("TRIGGER.a + 1") is parse("TRIGGER.a + 1")
