"""Commit-time validation: every rule, each problem located by file, line, ref and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.actions.registry import default_registry
from keel.dsl.diagnostics import Problem
from keel.dsl.validation import validate_file, validate_text

SHARED = Path(__file__).resolve().parents[4] / "shared"
REPO = Path(__file__).resolve().parents[3]


def problems(text: str) -> list[Problem]:
    return validate_text(text, default_registry(), file="wf.yml").problems


def errors(text: str) -> list[Problem]:
    return [p for p in problems(text) if p.severity == "error"]


def only(text: str) -> Problem:
    found = errors(text)
    assert len(found) == 1, found
    return found[0]


HEAD = "title: t\ndescription: d\nactions:\n"


@pytest.mark.parametrize(
    "path",
    [
        *sorted((SHARED / "examples").glob("*.yml")),
        *sorted((REPO / "examples").glob("*.yml")),
    ],
    ids=lambda p: p.name,
)
def test_example_workflows_are_valid(path: Path) -> None:
    result = validate_file(path, default_registry())
    assert result.errors == []


def test_a_valid_document_has_no_problems() -> None:
    text = HEAD + (
        "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ TRIGGER.x }}'}\n"
        "  - ref: b\n    action: core.transform.reshape\n    depends_on: [a]\n"
        "    args: {value: '${{ ACTIONS.a.result }}'}\n"
    )
    assert problems(text) == []


def test_yaml_syntax_error_has_a_line() -> None:
    p = only(HEAD + "  - ref: a\n    action: [unclosed\n")
    assert p.file == "wf.yml" and p.line is not None and p.line >= 5


def test_schema_error_names_ref_field_and_line() -> None:
    p = only(
        HEAD
        + "  - ref: a\n    action: core.transform.reshape\n    dependson: [x]\n    args: {value: 1}\n"
    )
    assert p.ref == "a" and p.line == 6 and "depends_on" in p.message


def test_bad_ref_name() -> None:
    p = only(HEAD + "  - ref: Bad-Ref\n    action: core.transform.reshape\n    args: {value: 1}\n")
    assert p.line == 4 and "ref" in (p.field or "")


def test_duplicate_refs() -> None:
    text = HEAD + (
        "  - ref: a\n    action: core.transform.reshape\n    args: {value: 1}\n"
        "  - ref: a\n    action: core.transform.reshape\n    depends_on: [a]\n    args: {value: 1}\n"
    )
    assert any("duplicate" in p.message.lower() and p.ref == "a" for p in errors(text))


def test_several_roots() -> None:
    text = HEAD + (
        "  - ref: a\n    action: core.transform.reshape\n    args: {value: 1}\n"
        "  - ref: b\n    action: core.transform.reshape\n    args: {value: 1}\n"
    )
    message = " ".join(p.message for p in errors(text))
    assert "(a, b)" in message


def test_entrypoint_ref_must_be_the_root() -> None:
    text = "title: t\ndescription: d\nentrypoint: {ref: b}\nactions:\n" + (
        "  - ref: a\n    action: core.transform.reshape\n    args: {value: 1}\n"
        "  - ref: b\n    action: core.transform.reshape\n    depends_on: [a]\n    args: {value: 1}\n"
    )
    assert any("entrypoint" in (p.field or "") or "entrypoint" in p.message for p in errors(text))


def test_unknown_dependency_with_hint() -> None:
    text = HEAD + (
        "  - ref: alpha\n    action: core.transform.reshape\n    args: {value: 1}\n"
        "  - ref: b\n    action: core.transform.reshape\n    depends_on: [alpah]\n    args: {value: 1}\n"
    )
    p = only(text)
    assert p.ref == "b" and "alpah" in p.message and "alpha" in p.message and p.line == 9


def test_cycle_names_its_refs() -> None:
    text = HEAD + (
        "  - ref: root\n    action: core.transform.reshape\n    args: {value: 1}\n"
        "  - ref: a\n    action: core.transform.reshape\n    depends_on: [root, b]\n    args: {value: 1}\n"
        "  - ref: b\n    action: core.transform.reshape\n    depends_on: [a]\n    args: {value: 1}\n"
    )
    message = " ".join(p.message for p in errors(text))
    assert "cycle" in message.lower() and "a" in message and "b" in message


def test_unknown_action_with_hint() -> None:
    p = only(HEAD + "  - ref: a\n    action: core.transform.reshap\n    args: {value: 1}\n")
    assert p.ref == "a" and p.field == "action" and "core.transform.reshape" in p.message
    assert p.line == 5


def test_missing_required_argument() -> None:
    p = only(HEAD + "  - ref: a\n    action: core.transform.filter\n    args: {items: []}\n")
    assert p.ref == "a" and p.field == "args.python_lambda" and "missing" in p.message


def test_unknown_argument_with_hint() -> None:
    p = only(
        HEAD + "  - ref: a\n    action: core.transform.reshape\n    args: {value: 1, valu: 2}\n"
    )
    assert p.field == "args.valu" and "'value'" in p.message and p.line == 6


def test_expression_that_does_not_parse() -> None:
    p = only(
        HEAD + "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ 1 + }}'}\n"
    )
    assert p.ref == "a" and p.field == "args.value" and p.expression == "${{ 1 + }}"


def test_unknown_function() -> None:
    p = only(
        HEAD
        + "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ FN.uppercse(TRIGGER.x) }}'}\n"
    )
    assert "uppercse" in p.message and p.field == "args.value"


def test_wrong_arity() -> None:
    p = only(
        HEAD
        + "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ FN.uppercase(1, 2) }}'}\n"
    )
    assert "uppercase" in p.message


def test_reference_to_unknown_action() -> None:
    p = only(
        HEAD
        + "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ ACTIONS.nope.result }}'}\n"
    )
    assert "ACTIONS.nope" in p.message and p.ref == "a"


def test_reference_to_an_action_that_is_not_upstream_is_a_warning() -> None:
    text = HEAD + (
        "  - ref: a\n    action: core.transform.reshape\n    args: {value: 1}\n"
        "  - ref: b\n    action: core.transform.reshape\n    depends_on: [a]\n    args: {value: 1}\n"
        "  - ref: c\n    action: core.transform.reshape\n    depends_on: [a]\n"
        "    args: {value: '${{ ACTIONS.b.result }}'}\n"
    )
    found = problems(text)
    assert [p.severity for p in found] == ["warning"]
    assert found[0].ref == "c" and "ACTIONS.b" in found[0].message


def test_unbound_loop_variable() -> None:
    p = only(
        HEAD + "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ var.x }}'}\n"
    )
    assert "var.x" in p.message


def test_for_each_must_be_an_iterator() -> None:
    p = only(
        HEAD
        + "  - ref: a\n    action: core.transform.reshape\n    for_each: '${{ TRIGGER.items }}'\n    args: {value: 1}\n"
    )
    assert p.field == "for_each" and p.ref == "a"


def test_run_if_and_returns_are_checked() -> None:
    text = HEAD + (
        "  - ref: a\n    action: core.transform.reshape\n    run_if: '${{ FN.nope() }}'\n"
        "    args: {value: 1}\nreturns: '${{ ACTIONS.zzz.result }}'\n"
    )
    fields = sorted(p.field or "" for p in errors(text))
    assert fields == ["returns", "run_if"]


def test_bad_expects_type() -> None:
    text = (
        "title: t\ndescription: d\nentrypoint:\n  expects:\n    x: {type: integer}\nactions:\n"
        + ("  - ref: a\n    action: core.transform.reshape\n    args: {value: 1}\n")
    )
    p = only(text)
    assert "integer" in p.message and p.line == 5


def test_every_problem_is_reported_at_once() -> None:
    text = HEAD + (
        "  - ref: a\n    action: core.nope\n    args: {}\n"
        "  - ref: b\n    action: core.transform.reshape\n    depends_on: [a]\n"
        "    args: {value: '${{ FN.nope(1) }}', extra: 1}\n"
    )
    assert len(errors(text)) == 3


def test_unreadable_file(tmp_path: Path) -> None:
    result = validate_file(tmp_path / "missing.yml", default_registry())
    assert not result.ok and "cannot read" in result.problems[0].message


def test_a_literal_wait_until_must_name_a_time() -> None:
    p = only(
        HEAD
        + "  - ref: a\n    action: core.transform.reshape\n    wait_until: when pigs fly\n"
        + "    args: {value: 1}\n"
    )
    assert p.ref == "a" and p.field == "wait_until" and p.line == 6
    assert "'when pigs fly' is not a time Keel understands" in p.message
    for good in ("tomorrow at 9am", "2026-12-01T09:00:00Z", "${{ TRIGGER.when }}"):
        assert not errors(
            HEAD
            + f"  - ref: a\n    action: core.transform.reshape\n    wait_until: '{good}'\n"
            + "    args: {value: 1}\n"
        )
