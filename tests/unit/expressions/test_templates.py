"""Templates: typed vs interpolated strings, walking args, finding expressions, for_each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from keel.errors import ExpressionError, ExpressionSyntaxError
from keel.expressions import (
    Iterator,
    evaluate,
    evaluate_templates,
    find_expressions,
    has_expression,
    iterate,
    parse_for_each,
)
from keel.expressions.templates import compile_template

CONTEXT: dict[str, Any] = {
    "TRIGGER": {
        "name": "Ann",
        "n": 3,
        "ok": True,
        "none": None,
        "items": [1, "a"],
        "obj": {"k": "é"},
    },
    "ACTIONS": {"a": {"result": {"x": 1}}, "list": {"result": [1, 2, 3]}},
    "var": {},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${{ TRIGGER.n }}", 3),
        ("  ${{ TRIGGER.n }}\n", 3),
        ("${{TRIGGER.ok}}", True),
        ("${{ TRIGGER.none }}", None),
        ("${{ ACTIONS.a.result }}", {"x": 1}),
        ("${{ [] }}", []),
        ("${{ {} }}", {}),
        ("${{ {'a': {'b': 1}} }}", {"a": {"b": 1}}),
        ("${{ 'x}}y' }}", "x}}y"),
        ("${{ \"}}\" + '{{' }}", "}}{{"),
    ],
)
def test_a_lone_expression_keeps_its_type(template: str, expected: Any) -> None:
    assert evaluate(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello ${{ TRIGGER.name }}!", "Hello Ann!"),
        ("n=${{ TRIGGER.n }}", "n=3"),
        ("ok=${{ TRIGGER.ok }}", "ok=True"),
        ("none=${{ TRIGGER.none }}", "none=None"),
        ("items=${{ TRIGGER.items }}", 'items=[1,"a"]'),
        ("obj=${{ TRIGGER.obj }}", 'obj={"k":"é"}'),
        ("${{ TRIGGER.n }}${{ TRIGGER.n }}", "33"),
        ("${{ 1.5 }} and ${{ [] }}", "1.5 and []"),
        ("a ${{ 'b' }} c ${{ 'd' }} e", "a b c d e"),
    ],
)
def test_mixed_strings_interpolate(template: str, expected: str) -> None:
    assert evaluate(template, CONTEXT) == expected


def test_interpolated_datetimes_print_as_python_does() -> None:
    moment = datetime(2030, 1, 2, tzinfo=UTC)
    assert evaluate("at ${{ TRIGGER.t }}", {"TRIGGER": {"t": moment}}) == f"at {moment}"


@pytest.mark.parametrize("text", ["", "plain", "no $ {{ here }}", "${ not one }", "{{ x }}"])
def test_text_without_an_expression_is_unchanged(text: str) -> None:
    assert evaluate(text, CONTEXT) is text


def test_non_text_is_returned_as_it_is() -> None:
    assert evaluate(5, CONTEXT) == 5  # type: ignore[arg-type]


def test_an_unclosed_expression_is_a_syntax_error() -> None:
    with pytest.raises(ExpressionSyntaxError, match="never closed"):
        evaluate("Hello ${{ TRIGGER.name", CONTEXT)


def test_errors_in_interpolation_name_the_inner_expression() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("total: ${{ TRIGGER.n + 'x' }} units", CONTEXT)
    assert caught.value.expression == "TRIGGER.n + 'x'"


def test_an_iterator_in_a_template_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="only allowed in for_each"):
        evaluate("${{ for var.x in [1] }}", CONTEXT)


def test_templates_are_compiled_once() -> None:
    assert compile_template("a ${{ TRIGGER.n }}") is compile_template("a ${{ TRIGGER.n }}")


def test_evaluate_templates_walks_dicts_lists_and_tuples() -> None:
    args = {
        "url": "https://x/${{ TRIGGER.name }}",
        "count": "${{ TRIGGER.n }}",
        "${{ literal key }}": ["${{ TRIGGER.ok }}", 5, None, ("${{ TRIGGER.n }}",)],
        "nested": {"deep": ["${{ ACTIONS.list.result[-1] }}"]},
    }
    result = evaluate_templates(args, CONTEXT)
    assert result == {
        "url": "https://x/Ann",
        "count": 3,
        "${{ literal key }}": [True, 5, None, (3,)],
        "nested": {"deep": [3]},
    }
    assert args["count"] == "${{ TRIGGER.n }}"  # the input is untouched


def test_evaluate_templates_reports_misses_and_honours_strict() -> None:
    misses: list[str] = []
    assert evaluate_templates(["${{ TRIGGER.nope }}"], CONTEXT, on_miss=misses.append) == [None]
    assert misses == ["TRIGGER.nope"]
    with pytest.raises(ExpressionError):
        evaluate_templates({"a": "${{ TRIGGER.nope }}"}, CONTEXT, strict=True)


def test_evaluate_templates_refuses_absurd_nesting() -> None:
    value: Any = "x"
    for _ in range(5000):
        value = [value]
    with pytest.raises(ExpressionError, match="nested too deeply"):
        evaluate_templates(value, CONTEXT)


def test_find_expressions() -> None:
    assert find_expressions("a ${{ x.y }} b ${{1}}") == ["x.y", "1"]
    assert find_expressions("${{ {'a': {'b': 1}} }}") == ["{'a': {'b': 1}}"]
    assert find_expressions("${{ 'a }} b' }}") == ["'a }} b'"]
    assert find_expressions("no expressions") == []
    assert find_expressions("${{ unclosed") == []
    # An unbalanced quote falls back to the first `}}`, so the parser can say what is wrong.
    assert find_expressions("${{ TRIGGER.it's }} x") == ["TRIGGER.it's"]


def test_has_expression() -> None:
    assert has_expression("${{ x }}")
    assert has_expression("${{ unclosed")
    assert not has_expression("plain")
    assert has_expression({"a": [1, {"b": "${{ c }}"}]})
    assert not has_expression({"${{ key }}": 1})
    assert not has_expression(5)


def test_parse_for_each() -> None:
    assert parse_for_each("${{ for var.x in TRIGGER.items }}") == [Iterator("x", "TRIGGER.items")]
    assert parse_for_each(["${{ for var.a in [1, 2] }}", " ${{ for var.b in FN.x(1) }} "]) == [
        Iterator("a", "[1, 2]"),
        Iterator("b", "FN.x(1)"),
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("for var.x in [1]", "exactly one iterator"),
        ("${{ TRIGGER.items }}", "needs an iterator"),
        ("${{ for x in [1] }}", "must be 'var.<name>', not 'x'"),
        ("${{ for var.a.b in [1] }}", "must be 'var.<name>'"),
        ("${{ for var.x in }}", "unexpected end of expression"),
        ("a ${{ for var.x in [1] }}", "exactly one iterator"),
        (["${{ for var.x in [1] }}", "${{ for var.x in [2] }}"], "binds 'var.x' twice"),
    ],
)
def test_parse_for_each_errors(spec: Any, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_for_each(spec)


def test_iterate_binds_each_item() -> None:
    spec = "${{ for var.x in ACTIONS.list.result }}"
    assert iterate(spec, CONTEXT) == [{"x": 1}, {"x": 2}, {"x": 3}]


def test_iterate_zips_several_iterators() -> None:
    spec = ["${{ for var.n in [1, 2] }}", "${{ for var.s in ['a', 'b'] }}"]
    assert iterate(spec, CONTEXT) == [{"n": 1, "s": "a"}, {"n": 2, "s": "b"}]


def test_iterate_over_an_empty_list() -> None:
    assert iterate("${{ for var.x in [] }}", CONTEXT) == []


def test_iterate_refuses_unequal_lengths_naming_them() -> None:
    spec = ["${{ for var.n in [1, 2] }}", "${{ for var.s in ACTIONS.list.result }}"]
    with pytest.raises(ExpressionError) as caught:
        iterate(spec, CONTEXT)
    assert "'[1, 2]' has 2" in str(caught.value)
    assert "'ACTIONS.list.result' has 3" in str(caught.value)


@pytest.mark.parametrize(
    ("collection", "kind"), [("TRIGGER.name", "str"), ("TRIGGER.nope", "None")]
)
def test_iterate_refuses_a_non_list_naming_the_expression(collection: str, kind: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        iterate(f"${{{{ for var.x in {collection} }}}}", CONTEXT)
    assert caught.value.expression == collection
    assert f"needs a list, got {kind}" in str(caught.value)


def test_iterate_reports_misses_and_honours_strict() -> None:
    misses: list[str] = []
    with pytest.raises(ExpressionError):
        iterate("${{ for var.x in TRIGGER.nope }}", CONTEXT, on_miss=misses.append)
    assert misses == ["TRIGGER.nope"]
    with pytest.raises(ExpressionError, match="matched nothing"):
        iterate("${{ for var.x in TRIGGER.nope }}", CONTEXT, strict=True)
