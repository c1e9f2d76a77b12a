"""The workflow model: defaults, leniency for Tracecat documents, round trips."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from keel.dsl.model import ActionStatement, Backoff, ExpectedField, Workflow, unwrap_definition

MINIMAL = {"title": "t", "description": "", "actions": [{"ref": "a", "action": "core.x"}]}


def test_defaults() -> None:
    wf = Workflow.model_validate(MINIMAL)
    assert wf.config.environment == "default"
    assert wf.config.strict_expressions is False
    assert wf.config.timeout == 0
    assert wf.entrypoint.ref is None
    assert wf.entrypoint.expects == {}
    assert wf.triggers == []
    assert wf.returns is None
    assert wf.error_handler is None
    assert wf.inputs == {}
    stmt = wf.actions[0]
    assert stmt.args == {}
    assert stmt.depends_on == []
    assert stmt.join_strategy == "all"
    assert stmt.mask_output is False
    assert stmt.start_delay == 0
    assert stmt.retry_policy.max_attempts == 1
    assert stmt.retry_policy.timeout == 300
    assert stmt.retry_policy.backoff.initial == 1
    assert stmt.retry_policy.backoff.coefficient == 2
    assert stmt.retry_policy.backoff.maximum == 60


def test_models_are_frozen() -> None:
    wf = Workflow.model_validate(MINIMAL)
    with pytest.raises(ValidationError):
        wf.title = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        wf.actions[0].ref = "b"  # type: ignore[misc]


def test_empty_yaml_values_read_as_empty_containers() -> None:
    data = {
        "title": "t",
        "description": None,
        "entrypoint": {"expects": None},
        "config": None,
        "triggers": None,
        "actions": [
            {"ref": "a", "action": "x", "args": None, "depends_on": None, "description": None}
        ],
    }
    wf = Workflow.model_validate(data)
    assert wf.description == ""
    assert wf.actions[0].args == {}
    assert wf.actions[0].depends_on == []
    assert wf.actions[0].description == ""


def test_unknown_top_level_and_config_keys_are_ignored() -> None:
    wf = Workflow.model_validate(
        {**MINIMAL, "layout": {"x": 1}, "config": {"scheduler": "dynamic", "other": 1}}
    )
    assert wf.config.scheduler == "dynamic"


def test_unknown_action_key_is_an_error() -> None:
    with pytest.raises(ValidationError):
        ActionStatement.model_validate({"ref": "a", "action": "x", "dependson": []})


def test_tracecat_action_keys_are_accepted() -> None:
    stmt = ActionStatement.model_validate(
        {
            "id": "act-123",
            "title": "Step",
            "ref": "a",
            "action": "x",
            "interaction": {"type": "response", "timeout": 30},
            "environment": None,
            "wait_until": None,
        }
    )
    assert stmt.title == "Step"
    assert "id" not in stmt.model_dump()


def test_expected_field_tells_null_default_from_no_default() -> None:
    with_null = ExpectedField.model_validate({"type": "str", "default": None})
    without = ExpectedField.model_validate({"type": "str"})
    assert with_null.has_default and not with_null.required
    assert not without.has_default and without.required
    assert ExpectedField.model_validate({"optional": True}).required is False


def test_round_trip_through_json_keeps_null_default() -> None:
    # How a definition travels to Temporal: model_dump(mode="json", exclude_none=True).
    wf = Workflow.model_validate(
        {
            **MINIMAL,
            "entrypoint": {"expects": {"a": {"type": "str", "default": None}, "b": {}}},
            "returns": {"x": None},
        }
    )
    again = Workflow.model_validate(wf.model_dump(mode="json", exclude_none=True))
    assert again == wf
    assert again.entrypoint.expects["a"].has_default
    assert not again.entrypoint.expects["b"].has_default


def test_for_each_accepts_string_or_list_of_strings() -> None:
    one = ActionStatement(ref="a", action="x", for_each="${{ for var.x in [1] }}")
    many = ActionStatement.model_validate({"ref": "a", "action": "x", "for_each": ["a", "b"]})
    assert one.for_each == "${{ for var.x in [1] }}"
    assert many.for_each == ["a", "b"]


def test_unwrap_definition() -> None:
    inner = dict(MINIMAL)
    assert unwrap_definition({"definition": inner, "layout": {}}) is inner
    assert unwrap_definition(inner) is inner
    assert unwrap_definition({"definition": {"title": "x"}}) == {"definition": {"title": "x"}}
    wf = Workflow.model_validate({"definition": inner, "webhook": {"status": "online"}})
    assert wf.title == "t"


def test_action_lookup() -> None:
    wf = Workflow.model_validate(MINIMAL)
    assert wf.action("a") is wf.actions[0]
    assert wf.action("nope") is None


def test_backoff_grows_to_its_cap_and_never_overflows() -> None:
    backoff = Backoff(initial=1, coefficient=2, maximum=60)
    assert [backoff.delay(n) for n in (1, 2, 3, 6, 7, 100)] == [1, 2, 4, 32, 60, 60]
    assert backoff.delay(5_000) == 60  # 2.0 ** 4999 overflows a float: the cap applies
    assert Backoff(initial=0).delay(3) == 0
