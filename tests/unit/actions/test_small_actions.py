"""core.require and core.transform.drop_nulls (Tracecat's small core actions)."""

from __future__ import annotations

import pytest

from keel.actions.builtin.nulls import drop_nulls
from keel.actions.builtin.require import RequirementError, require
from keel.actions.registry import default_registry


def test_require_holds() -> None:
    assert require(True) is True
    assert require([True, True]) is True
    assert require([False, True], require_all=False) is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conditions": False}, "the condition is false"),
        ({"conditions": [True, False, False]}, "condition(s) 1, 2 of 3 are false"),
        ({"conditions": [False, False], "require_all": False}, "none of the 2 conditions"),
        ({"conditions": [True, False], "message": "score too low"}, "score too low"),
        ({"conditions": []}, "at least one condition"),
    ],
)
def test_require_fails_with_a_message(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RequirementError) as info:
        require(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_require_may_return_false_instead() -> None:
    assert require([True, False], raise_error=False) is False


def test_require_conditions_must_be_booleans() -> None:
    spec = default_registry().get("core.require")
    assert spec.check_literals({"conditions": {"a": 1}})
    assert spec.check_literals({"conditions": [True, "${{ TRIGGER.ok }}"]}) == []


def test_drop_nulls_keeps_falsy_values() -> None:
    assert drop_nulls([1, None, 0, "", False, None, {"a": None}]) == [1, 0, "", False, {"a": None}]
    assert default_registry().get("core.transform.drop_nulls").pure
