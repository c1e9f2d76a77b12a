"""Paths: simple keys walked by hand, JSONPath tails through jsonpath-ng, misses and plurals."""

from __future__ import annotations

from typing import Any

import pytest

from keel.errors import ExpressionError
from keel.expressions import evaluate_expression
from keel.expressions.paths import MISSING, split_path, unquote, walk

DATA: dict[str, Any] = {
    "TRIGGER": {
        "users": [
            {"name": "ann", "age": 31, "active": True, "tags": ["x"]},
            {"name": "bob", "age": 45, "active": False, "tags": ["y"]},
            {"name": "cid", "age": 35, "active": True, "tags": []},
        ],
        "_source": {"kibana.alert.rule.name": "Brute force", "user@example.com": 1},
        "a.b": "dotted",
        "text": "banana",
        "deep": {"x": {"name": "inner"}},
        "pairs": {"k1": 1, "k2": 2},
    },
    "ACTIONS": {"lookup": {"result": {"items": [10, 20, 30]}}},
    "PARENT": {"TRIGGER": {"p": 1}, "PARENT": {"ACTIONS": {"root": {"result": "top"}}}},
    "inputs": {"who": "me"},
    "steps": {"first": {"result": 5}},
    "ENV": {"workflow": {"id": "wf-1"}},
}


def ev(expr: str, **kwargs: Any) -> Any:
    return evaluate_expression(expr, DATA, **kwargs)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("TRIGGER.users[0].name", "ann"),
        ("TRIGGER.users[-1].name", "cid"),
        ("TRIGGER.users[-3].age", 31),
        ("TRIGGER.text[0]", "b"),
        ("TRIGGER.text[-1]", "a"),
        ("TRIGGER['a.b']", "dotted"),
        ('TRIGGER["a.b"]', "dotted"),
        ('TRIGGER.["a.b"]', "dotted"),
        ("TRIGGER._source.'kibana.alert.rule.name'", "Brute force"),
        ('TRIGGER._source."kibana.alert.rule.name"', "Brute force"),
        ("TRIGGER._source['user@example.com']", 1),
        ("ACTIONS.lookup.result.items[1]", 20),
        ("ACTIONS['lookup']['result']['items'][2]", 30),
        ("PARENT.TRIGGER.p", 1),
        ("PARENT.PARENT.ACTIONS.root.result", "top"),
        ("inputs.who", "me"),
        ("steps.first.result", 5),
        ("ENV.workflow.id", "wf-1"),
        ("TRIGGER.pairs", {"k1": 1, "k2": 2}),
    ],
)
def test_simple_paths(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("TRIGGER.users[*].name", ["ann", "bob", "cid"]),
        ("TRIGGER.users[?age >= 30 & age <= 40].name", ["ann", "cid"]),
        ("TRIGGER.users[?age >= 30 && age <= 40].name", ["ann", "cid"]),
        ("TRIGGER.users[?active == true].name", ["ann", "cid"]),
        ("TRIGGER.users[?age > 40].name", ["bob"]),  # a filter gives a list, even of one
        ("TRIGGER.users[?age > 99].name", []),
        ("TRIGGER.users[?(@.name == 'bob')].age", [45]),
        ("TRIGGER.users[0:2].name", ["ann", "bob"]),
        ("TRIGGER.users[0,2].name", ["ann", "cid"]),
        ("TRIGGER.pairs.*", [1, 2]),
        ("TRIGGER.deep..name", "inner"),  # recursive with one match gives the value
        ("TRIGGER.users..age", [31, 45, 35]),
        ("TRIGGER.text.`sub(/a/, o)`", "bonono"),
        ("TRIGGER.users[*].`len`", [4, 4, 4]),
        ("TRIGGER.users[*].tags[0]", ["x", "y"]),
    ],
)
def test_jsonpath_tails(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


def test_wildcard_over_an_empty_list_is_an_empty_list_not_a_miss() -> None:
    misses: list[str] = []
    assert (
        evaluate_expression("TRIGGER.xs[*]", {"TRIGGER": {"xs": []}}, on_miss=misses.append) == []
    )
    assert misses == []


def test_a_recursive_path_that_matches_nothing_is_a_miss() -> None:
    misses: list[str] = []
    assert ev("TRIGGER.deep..nothing", on_miss=misses.append) is None
    assert misses == ["TRIGGER.deep..nothing"]


def test_a_jsonpath_tail_under_a_missing_prefix_is_a_miss() -> None:
    misses: list[str] = []
    assert ev("TRIGGER.nothing[*].name", on_miss=misses.append) is None
    assert misses == ["TRIGGER.nothing[*].name"]


def test_a_failing_backtick_function_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="failed"):
        ev("TRIGGER.pairs.`sub(/a/, b)`")


def test_an_invalid_jsonpath_tail_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="invalid path"):
        ev("TRIGGER.text.`nosuch`")


@pytest.mark.parametrize(
    "expr",
    [
        "TRIGGER.users[3]",
        "TRIGGER.users[-4]",
        "TRIGGER.users.name",  # a name on a list
        "TRIGGER.pairs[0]",  # an index on a dict
        "TRIGGER.text.upper",  # a name on a string
        "TRIGGER.text[10]",
        "TRIGGER.users[0].age.x",  # a name on an int
        "TRIGGER.__class__",
        "TRIGGER.__class__.__mro__",
        "TRIGGER.pairs.keys",
        "TRIGGER.pairs.__len__",
    ],
)
def test_misses(expr: str) -> None:
    misses: list[str] = []
    assert ev(expr, on_miss=misses.append) is None
    assert misses == [expr]


def test_split_path_is_cached_and_splits_at_the_first_complex_segment() -> None:
    path = split_path(".a[0]['b'][*].c[1]")
    assert path.keys == ("a", 0, "b")
    assert path.texts == (".a", "[0]", "['b']")
    assert path.tail == "$[*].c[1]"
    assert path.plural
    assert split_path(".a") is split_path(".a")
    assert not split_path("..name").plural
    assert not split_path(".`sub(/a,b/, c)`").plural  # a comma inside a backtick is not a union


def test_walk_reports_where_it_stopped() -> None:
    value, at = walk({"a": [1, {"b": 2}]}, ("a", 1, "b"))
    assert (value, at) == (2, -1)
    value, at = walk({"a": [1]}, ("a", 5, "b"))
    assert value is MISSING
    assert at == 1


@pytest.mark.parametrize(
    ("quoted", "expected"),
    [
        ("'a'", "a"),
        (r"'\''", "'"),
        (r'"\""', '"'),
        (r"'\\'", "\\"),
        (r"'\q'", r"\q"),
        (r"'\u12'", r"\u12"),
    ],
)
def test_unquote(quoted: str, expected: str) -> None:
    assert unquote(quoted) == expected
