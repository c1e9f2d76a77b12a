"""The ``core.transform.*`` actions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from keel.actions.builtin import transform
from keel.actions.registry import default_registry
from keel.actions.seen_keys import CURRENT_SEEN, SeenScope
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


class MemorySeenKeys:
    """An in-memory seen-keys store (the real one: tests/integration/store/test_seen_keys.py)."""

    def __init__(self) -> None:
        self.owners: dict[tuple[str, str], str] = {}
        self.ttls: list[float] = []

    async def remember(
        self, scope: str, owner: str, digests: Sequence[str], ttl_seconds: float
    ) -> set[str]:
        self.ttls.append(ttl_seconds)
        seen = set()
        for digest in digests:
            previous = self.owners.setdefault((scope, digest), owner)
            if previous != owner:
                seen.add(digest)
        return seen


@pytest.fixture
def seen() -> Iterator[MemorySeenKeys]:
    """Install a store as the activity does, for a call of run ``run-1``."""
    store = MemorySeenKeys()
    token = CURRENT_SEEN.set(SeenScope(store, "wf", "run-1/dedup"))
    yield store
    CURRENT_SEEN.reset(token)


def as_run(store: MemorySeenKeys, owner: str) -> None:
    """Make the following calls belong to another run."""
    CURRENT_SEEN.set(SeenScope(store, "wf", owner))


async def test_deduplicate_merges_duplicates_in_first_position(seen: MemorySeenKeys) -> None:
    items = [
        {"user": {"id": 1}, "seen": "mon"},
        {"user": {"id": 2}, "seen": "mon"},
        {"user": {"id": 1}, "seen": "tue", "extra": True},
    ]
    assert await call("core.transform.deduplicate", items=items, keys=["user.id"]) == [
        {"user": {"id": 1}, "seen": "tue", "extra": True},
        {"user": {"id": 2}, "seen": "mon"},
    ]
    assert items[0] == {"user": {"id": 1}, "seen": "mon"}  # inputs are not modified


async def test_deduplicate_uses_every_key_and_keeps_types_apart() -> None:
    items = [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": "1", "b": "x"}, {"a": 1, "b": "x"}]
    result = await call("core.transform.deduplicate", items=items, keys=["a", "b"], persist=False)
    assert result == items[:3]


async def test_deduplicate_accepts_one_object_and_unhashable_key_values() -> None:
    assert await transform.deduplicate({"k": [1]}, ["k"], persist=False) == [{"k": [1]}]
    pair = [{"k": [1]}, {"k": [1]}]
    assert await transform.deduplicate(pair, ["k"], persist=False) == [{"k": [1]}]


async def test_deduplicate_names_a_missing_key() -> None:
    with pytest.raises(ValueError, match=r"item 1 has no key 'user\.id'"):
        await transform.deduplicate([{"user": {"id": 1}}, {"user": {}}], ["user.id"])


async def test_deduplicate_drops_what_earlier_runs_saw(seen: MemorySeenKeys) -> None:
    monday = [{"id": 1}, {"id": 2}]
    assert await transform.deduplicate(monday, ["id"], expire_seconds=600) == monday
    assert seen.ttls == [600]
    as_run(seen, "run-2/dedup")
    tuesday = [{"id": 2, "new": True}, {"id": 3}]
    assert await transform.deduplicate(tuesday, ["id"]) == [{"id": 3}]
    # persist: false neither reads nor records.
    as_run(seen, "run-3/dedup")
    assert await transform.deduplicate([{"id": 4}], ["id"], persist=False) == [{"id": 4}]
    as_run(seen, "run-4/dedup")
    assert await transform.deduplicate([{"id": 4}], ["id"]) == [{"id": 4}]


async def test_a_retried_call_gets_the_same_answer(seen: MemorySeenKeys) -> None:
    items = [{"id": 1}, {"id": 2}]
    assert await transform.deduplicate(items, ["id"]) == items
    assert await transform.deduplicate(items, ["id"]) == items  # same owner: a retry


async def test_is_duplicate_remembers_across_runs(seen: MemorySeenKeys) -> None:
    assert await call("core.transform.is_duplicate", item={"id": 1}, keys=["id"]) is False
    as_run(seen, "run-2/check")
    assert await transform.is_duplicate({"id": 1, "other": "field"}, ["id"]) is True
    assert await transform.is_duplicate({"id": 2}, ["id"]) is False
    with pytest.raises(ValueError, match="no key 'other'"):
        await transform.is_duplicate({"id": 1}, ["other"])


async def test_remembering_needs_a_store_and_a_positive_lifetime(seen: MemorySeenKeys) -> None:
    with pytest.raises(ValueError, match="expire_seconds must be a positive number"):
        await transform.is_duplicate({"id": 1}, ["id"], expire_seconds=0)
    with pytest.raises(ValueError, match=r"at most 315360000 \(ten years\), not 1000000000000"):
        await transform.is_duplicate({"id": 1}, ["id"], expire_seconds=10**12)
    CURRENT_SEEN.set(None)
    with pytest.raises(RuntimeError, match=r"Keel's store.*persist: false"):
        await transform.deduplicate([{"id": 1}], ["id"])
    with pytest.raises(RuntimeError, match=r"core\.transform\.is_duplicate remembers keys"):
        await transform.is_duplicate({"id": 1}, ["id"])


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


@pytest.mark.parametrize("name", ["core.transform.filter", "core.transform.map"])
def test_a_lambda_called_per_item_is_bounded_as_a_whole(name: str) -> None:
    from keel.expressions.limits import Limits, limits_set

    # Each call stays far inside its own budget and deadline; 10,000 of them would not.
    slow = "lambda x: sum(range(20000)) > x"
    with (
        limits_set(Limits(lambda_work=10**9, lambda_seconds=30, lambda_action_seconds=0.2)),
        pytest.raises(LambdaError, match=r"took more than 0\.2 seconds together") as raised,
    ):
        call(name, items=list(range(10_000)), python_lambda=slow)
    assert "KEEL_LAMBDA_ACTION_SECONDS" in str(raised.value)
    # The same lambda on a few items is fine: the bound is on the action's calls together.
    with limits_set(Limits(lambda_work=10**9, lambda_seconds=30, lambda_action_seconds=5)):
        assert len(call(name, items=[1, 2, 3], python_lambda=slow)) in {0, 3}


def test_the_per_action_lambda_deadline_is_a_setting() -> None:
    from keel.config import Settings

    assert Settings(lambda_action_seconds=7).user_code_limits().lambda_action_seconds == 7
