"""Checking trigger input against entrypoint.expects, and expects itself."""

from __future__ import annotations

from typing import Any

from keel.dsl.expects import check_inputs, validate_expects
from keel.dsl.loader import load_workflow
from keel.dsl.model import ExpectedField


def _fields(**types: dict[str, Any]) -> dict[str, ExpectedField]:
    return {name: ExpectedField.model_validate(spec) for name, spec in types.items()}


EXPECTS = _fields(
    subject={"type": "str"},
    score={"type": "int", "default": 0},
    tags={"type": "list[str]", "optional": True},
    note={"type": "str", "default": None},
    when={"type": "datetime", "optional": True},
    wait={"type": "duration", "optional": True},
    level={"type": 'enum["low", "high"]', "default": "low"},
)


def test_valid_input_gets_defaults_and_keeps_extras() -> None:
    payload = {"subject": "Hi", "extra": {"x": 1}, "when": "2026-01-01T00:00:00Z", "wait": "1h"}
    result, messages = check_inputs(EXPECTS, payload)
    assert messages == []
    assert result == {**payload, "score": 0, "note": None, "level": "low"}
    assert "tags" not in result  # optional without default: stays missing
    assert payload == {
        "subject": "Hi",
        "extra": {"x": 1},
        "when": "2026-01-01T00:00:00Z",
        "wait": "1h",
    }


def test_defaults_are_copied() -> None:
    expects = _fields(items={"type": "list", "default": []})
    first, _ = check_inputs(expects, {})
    first["items"].append(1)
    second, _ = check_inputs(expects, {})
    assert second["items"] == []


def test_every_bad_field_is_named() -> None:
    payload = {
        "score": "abc",
        "tags": ["a", 2],
        "when": "next week",
        "wait": "soon",
        "level": "mid",
    }
    _, messages = check_inputs(EXPECTS, payload)
    assert messages == [
        "field 'subject': required field missing",
        "field 'score': expected int, got str 'abc'",
        "field 'tags[1]': expected str, got int 2",
        "field 'when': expected datetime, got str 'next week'",
        "field 'wait': expected duration, got str 'soon'",
        "field 'level': expected one of 'low', 'high', got str 'mid'",
    ]


def test_bool_is_not_an_int_but_int_is_a_float() -> None:
    expects = _fields(n={"type": "int"}, x={"type": "float"})
    _, messages = check_inputs(expects, {"n": True, "x": 3})
    assert messages == ["field 'n': expected int, got bool true"]


def test_null_values() -> None:
    expects = _fields(
        a={"type": "str", "optional": True},
        b={"type": "str", "default": None},
        c={"type": "str | None"},
        d={"type": "str", "default": "x"},
        e={"type": "str"},
    )
    _, messages = check_inputs(expects, dict.fromkeys("abcde"))
    assert messages == ["field 'd': expected str, got None", "field 'e': expected str, got None"]


def test_nested_paths() -> None:
    expects = _fields(alerts={"type": "list[dict[str, int]]"})
    _, messages = check_inputs(expects, {"alerts": [{"severity": 3}, {"severity": "high"}]})
    assert messages == ["field 'alerts[1].severity': expected int, got str 'high'"]


def test_non_mapping_payload() -> None:
    _, messages = check_inputs(EXPECTS, ["a"])
    assert messages == [
        "the input must be a JSON object with the fields subject, score, tags, note, when, wait, "
        'level; got list ["a"]'
    ]


def test_missing_payload_counts_as_empty() -> None:
    result, messages = check_inputs(EXPECTS, None)
    assert messages == ["field 'subject': required field missing"]
    assert result["score"] == 0


def test_empty_expects_accepts_anything() -> None:
    assert check_inputs({}, [1, 2]) == ([1, 2], [])
    assert check_inputs({}, None) == (None, [])


def test_invalid_type_at_input_time() -> None:
    _, messages = check_inputs(_fields(a={"type": "integer"}), {"a": 1})
    assert messages[0].startswith("field 'a': the workflow's expects has an invalid type:")


def test_validate_expects_problems() -> None:
    expects = _fields(
        a={"type": "integer"},
        b={"type": "int", "default": "x"},
        c={"type": "dict[int, str]"},
        d={"type": "str", "default": None},
        e={"type": "list[int]", "default": [1, "2"]},
        f={"type": "dict[str | int, int]"},
    )
    problems = validate_expects(expects)
    assert [(p.field, p.message) for p in problems] == [
        ("entrypoint.expects.a.type", "field 'a': unknown type 'integer'; did you mean 'int'?"),
        (
            "entrypoint.expects.b.default",
            "field 'b': default does not match: expected int, got str 'x'",
        ),
        (
            "entrypoint.expects.c.type",
            "field 'c': dict keys of dict[int, str] can never match: JSON object keys are "
            "strings; use dict[str, str]",
        ),
        (
            "entrypoint.expects.e.default",
            "field 'e': default[1] does not match: expected int, got str '2'",
        ),
    ]


def test_validate_expects_lines_from_source() -> None:
    text = """\
title: t
description: d
entrypoint:
  expects:
    score:
      type: number
      default: 1
actions:
  - {ref: a, action: x}
"""
    result = load_workflow(text, file="w.yml")
    assert result.workflow is not None
    (problem,) = validate_expects(result.workflow.entrypoint.expects, result.source, file="w.yml")
    assert (problem.file, problem.line) == ("w.yml", 6)
    assert "did you mean 'float'?" in problem.message
