"""Property tests: whatever the text, the API returns a value or raises ExpressionError."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.errors import ExpressionError
from keel.expressions import (
    check,
    evaluate,
    evaluate_expression,
    find_expressions,
    iterate,
    references,
)
from keel.expressions import nodes as n
from keel.expressions.parser import parse

CONTEXT: dict[str, Any] = {
    "TRIGGER": {"a": 1, "s": "text", "xs": [1, 2, 3], "d": {"k": [{"v": 0}]}, "n": None},
    "ACTIONS": {"x": {"result": {"items": [{"age": 31}, {"age": 50}]}}},
    "var": {"i": 0},
    "PARENT": {"TRIGGER": {"p": 1}},
}

FAST = settings(
    max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

TOKENS = [
    "TRIGGER", "TRIGGER.a", "TRIGGER.s", "TRIGGER.xs", "TRIGGER.d.k[0].v", "TRIGGER.xs[-1]",
    "ACTIONS.x.result.items[*].age", "ACTIONS.x.result.items[?age > 40]", "TRIGGER..v",
    "PARENT.TRIGGER.p", "var.i", "SECRETS.s.k", "FOO.bar", "FN", "FN.length", "FN.split",
    "FN.add", "FN.add.map", "FN.concat", "FN.max", "FN.nope", "int", "float", "str", "bool",
    "(", ")", "[", "]", "{", "}", ",", ":", ".", "..", "->", "+", "-", "*", "/", "%", "==",
    "!=", "<", "<=", ">", ">=", "&&", "||", "not", "in", "is", "if", "else", "for", "and",
    "or", "True", "False", "None", "true", "null", "0", "1", "-1", "2.5", "1e400",
    "1000000000", "'a'", '"b"', "''", "'}}'", "[*]", "[?", "`", "'", '"', "\\", "$", "@",
]  # fmt: skip

token_text = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map(" ".join)
any_text = st.text(max_size=60)


def _outcome(call: Any) -> None:
    """Run ``call``; only an ExpressionError (not an internal one) may come out."""
    try:
        call()
    except ExpressionError as exc:
        assert "internal error" not in str(exc), exc


@FAST
@given(any_text)
def test_any_text_as_an_expression(text: str) -> None:
    _outcome(lambda: evaluate_expression(text, CONTEXT))


@FAST
@given(token_text)
def test_token_soup_as_an_expression(text: str) -> None:
    _outcome(lambda: evaluate_expression(text, CONTEXT))
    _outcome(lambda: evaluate_expression(text, CONTEXT, strict=True))


@FAST
@given(st.one_of(any_text, token_text))
def test_any_text_wrapped_in_a_template(text: str) -> None:
    _outcome(lambda: evaluate("${{ " + text + " }}", CONTEXT))
    _outcome(lambda: evaluate("before ${{ " + text + " }} after", CONTEXT))


@FAST
@given(st.one_of(any_text, token_text))
def test_any_text_as_a_template_with_marker_fragments(text: str) -> None:
    template = text.replace("a", "${{").replace("b", "}}")
    _outcome(lambda: evaluate(template, CONTEXT))


@FAST
@given(st.one_of(any_text, token_text))
def test_static_analysis_never_raises(text: str) -> None:
    for template in (text, "${{ " + text + " }}"):
        assert isinstance(check(template), list)
        references(template)
        find_expressions(template)


@FAST
@given(token_text)
def test_iterate_never_raises_anything_else(text: str) -> None:
    _outcome(lambda: iterate("${{ for var.x in " + text + " }}", CONTEXT))


# Well-formed expressions, built from the grammar: printed back, a tree means the same thing.
_leaf = st.sampled_from(
    ["1", "2.5", "1e400", "'s'", "'q\\'t'", "True", "None", "[]", "{}", "TRIGGER.a", "var.i"]
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operators = ["+", "-", "*", "/", "%", "==", "<", "in", "not in", "is", "is not", "&&", "||"]
    binary = st.tuples(children, st.sampled_from(operators), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        children.map(lambda c: f"-({c})"),
        children.map(lambda c: f"not ({c})"),
        children.map(lambda c: f"[{c}, {c}]"),
        children.map(lambda c: f"{{'k': {c}}}"),
        children.map(lambda c: f"int({c})"),
        children.map(lambda c: f"({c})[0]"),
        st.tuples(children, children, children).map(
            lambda t: f"({t[0]}) if ({t[1]}) else ({t[2]})"
        ),
    )


well_formed = st.recursive(_leaf, _combine, max_leaves=12)


def _result(text: str) -> tuple[str, str]:
    try:
        return "value", repr(evaluate_expression(text, CONTEXT))
    except ExpressionError as exc:
        assert "internal error" not in str(exc), exc
        return "error", type(exc).__name__


@FAST
@given(well_formed)
def test_a_tree_printed_back_means_the_same(text: str) -> None:
    printed = n.source(parse(text))
    assert n.source(parse(printed)) == printed
    assert _result(printed) == _result(text)
