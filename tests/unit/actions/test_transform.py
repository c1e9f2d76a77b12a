"""The ``core.transform.*`` actions."""

from __future__ import annotations

from typing import Any

import pytest

from keel.actions.builtin import transform
from keel.actions.registry import default_registry
from keel.errors import ActionArgumentError, LambdaError


def call(name: str, **args: Any) -> Any:
    """Validate and call a core action, as the engine does."""
    spec = default_registry().get(name)
    return spec.fn(**spec.validate_args(args))


def test_reshape_returns_its_value() -> None:
    value = {"a": [1, {"b": None}]}
    assert call("core.transform.reshape", value=value) == value


def test_filter_map_apply() -> None:
    items = [{"score": 3}, {"score": 7}, {"score": 9}]
    assert call("core.transform.filter", items=items, python_lambda="lambda x: x['score'] > 5") == [
        {"score": 7},
        {"score": 9},
    ]
    assert call("core.transform.map", items=items, python_lambda="lambda x: x['score'] * 2") == [
        6,
        14,
        18,
    ]
    assert call("core.transform.apply", value="A b", python_lambda="lambda x: x.lower()") == "a b"


def test_lambda_errors_fail_the_action() -> None:
    with pytest.raises(LambdaError, match="failed with KeyError: 'score'"):
        call("core.transform.filter", items=[{}], python_lambda="lambda x: x['score'] > 5")
    with pytest.raises(LambdaError, match="name 'open' is not defined"):
        call("core.transform.map", items=[1], python_lambda="lambda x: open(x)")


def test_filter_needs_a_list() -> None:
    with pytest.raises(ActionArgumentError, match="argument 'items' must be list"):
        call("core.transform.filter", items="abc", python_lambda="lambda x: x")


def test_is_in_and_not_in() -> None:
    items = ["a", "b", "c"]
    assert call("core.transform.is_in", items=items, collection=["c", "a", "z"]) == ["a", "c"]
    assert call("core.transform.not_in", items=items, collection=["c", "a", "z"]) == ["b"]


def test_is_in_compares_the_lambda_value() -> None:
    users = [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]
    kept = call(
        "core.transform.is_in", items=users, collection=[2], python_lambda="lambda u: u['id']"
    )
    assert kept == [{"id": 2, "name": "bob"}]
    dropped = call(
        "core.transform.not_in", items=users, collection=[2], python_lambda="lambda u: u['id']"
    )
    assert dropped == [{"id": 1, "name": "ann"}]


def test_is_in_handles_unhashable_values() -> None:
    items = [{"a": 1}, {"a": 2}, [1], 3]
    assert transform.is_in(items, [{"a": 2}, 3]) == [{"a": 2}, 3]
    assert transform.is_in(items, [1, 3]) == [3]  # a hashable collection, unhashable items
    assert transform.not_in(items, [[1]]) == [{"a": 1}, {"a": 2}, 3]


def test_deduplicate_merges_duplicates_in_first_position() -> None:
    items = [
        {"user": {"id": 1}, "seen": "mon"},
        {"user": {"id": 2}, "seen": "mon"},
        {"user": {"id": 1}, "seen": "tue", "extra": True},
    ]
    assert call("core.transform.deduplicate", items=items, keys=["user.id"]) == [
        {"user": {"id": 1}, "seen": "tue", "extra": True},
        {"user": {"id": 2}, "seen": "mon"},
    ]
    assert items[0] == {"user": {"id": 1}, "seen": "mon"}  # inputs are not modified


def test_deduplicate_uses_every_key_and_keeps_types_apart() -> None:
    items = [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": "1", "b": "x"}, {"a": 1, "b": "x"}]
    result = call("core.transform.deduplicate", items=items, keys=["a", "b"], persist=False)
    assert result == items[:3]


def test_deduplicate_accepts_one_object_and_unhashable_key_values() -> None:
    assert transform.deduplicate({"k": [1]}, ["k"]) == [{"k": [1]}]
    assert transform.deduplicate([{"k": [1]}, {"k": [1]}], ["k"]) == [{"k": [1]}]


def test_deduplicate_names_a_missing_key() -> None:
    with pytest.raises(ValueError, match=r"item 1 has no key 'user\.id'"):
        transform.deduplicate([{"user": {"id": 1}}, {"user": {}}], ["user.id"])


def test_is_duplicate_without_a_store() -> None:
    item = {"id": 1}
    assert call("core.transform.is_duplicate", item=item, keys=["id"]) is False
    with pytest.raises(ValueError, match="no key 'other'"):
        transform.is_duplicate(item, ["other"])


def test_flatten_json() -> None:
    nested = {"a": {"b": [1, {"c": 2}], "d": {}}, "e": [], "f": None}
    assert call("core.transform.flatten_json", json=nested) == {
        "a.b.0": 1,
        "a.b.1.c": 2,
        "a.d": {},
        "e": [],
        "f": None,
    }
    assert transform.flatten_json([{"x": 1}]) == {"0.x": 1}
    assert transform.flatten_json({}) == {}


def test_eval_jsonpaths() -> None:
    data = {
        "alert": {"rule": {"name": "r1"}},
        "users": [{"name": "ann", "age": 31}, {"name": "bob", "age": 20}],
        "kibana.alert": "dotted",
    }
    paths = [
        "alert.rule.name",
        "$.users[*].name",
        "users[?age > 30].name",
        "users[1].age",
        "missing.path",
        "$['kibana.alert']",
    ]
    assert call("core.transform.eval_jsonpaths", json=data, jsonpaths=paths) == {
        "alert.rule.name": "r1",
        "$.users[*].name": ["ann", "bob"],
        "users[?age > 30].name": ["ann"],
        "users[1].age": 20,
        "missing.path": None,
        "$['kibana.alert']": "dotted",
    }


def test_eval_jsonpaths_names_a_bad_path() -> None:
    with pytest.raises(ValueError, match=r"JSONPath 'a\[\[' does not parse"):
        transform.eval_jsonpaths({}, ["a[["])
