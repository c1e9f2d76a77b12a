"""Commit-time checks of how a workflow calls its actions: literal types, lambdas, Tracecat gaps."""

from __future__ import annotations

import pytest

from keel.actions.registry import default_registry
from keel.dsl.diagnostics import Problem
from keel.dsl.validation import validate_text

HEAD = "title: t\ndescription: d\nactions:\n"


def problems(actions: str) -> list[Problem]:
    return validate_text(HEAD + actions, default_registry(), file="wf.yml").problems


def test_a_literal_of_the_wrong_type_is_an_error_with_line_and_field() -> None:
    found = problems(
        """\
  - ref: call
    action: core.http_request
    args:
      url: {host: example.com}
      method: GET
"""
    )
    assert [(p.line, p.ref, p.field, p.severity) for p in found] == [
        (7, "call", "args.url", "error")
    ]
    assert "argument 'url' must be str, got a mapping (core.http_request)" in found[0].message


def test_values_with_expressions_are_left_to_run_time() -> None:
    assert (
        problems(
            """\
  - ref: call
    action: core.http_request
    args:
      url: ${{ TRIGGER.url }}
      headers: {X-Id: "${{ TRIGGER.id }}"}
"""
        )
        == []
    )


def test_lax_literals_that_mean_the_type_are_accepted() -> None:
    assert (
        problems(
            """\
  - ref: call
    action: core.http_request
    args: {url: "https://example.com", timeout: "30"}
"""
        )
        == []
    )


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("lambda x: x.__class__", "__class__"),
        ("lambda x: x +", "lambda"),
        ("x + 1", "lambda"),
    ],
)
def test_a_literal_python_lambda_is_compiled_at_commit(source: str, fragment: str) -> None:
    found = problems(
        f"""\
  - ref: f
    action: core.transform.apply
    args:
      value: 1
      python_lambda: "{source}"
"""
    )
    assert len(found) == 1, found
    assert found[0].field == "args.python_lambda"
    assert found[0].line == 8
    assert fragment in found[0].message


def test_interaction_is_a_warning_not_silence() -> None:
    found = problems(
        """\
  - ref: ask
    action: core.transform.reshape
    args: {value: 1}
    interaction: {type: response, timeout: 60}
"""
    )
    assert [(p.severity, p.field, p.line) for p in found] == [("warning", "interaction", 7)]
    assert "not supported" in found[0].message


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("core.cases.create_case", "cases"),
        ("core.table.lookup", "tables"),
        ("ai.action", "AI"),
        ("tools.slack.post_message", "action package"),
    ],
)
def test_a_known_tracecat_action_keel_lacks_says_so(name: str, fragment: str) -> None:
    found = problems(f"  - ref: a\n    action: {name}\n")
    assert len(found) == 1
    assert "a Tracecat action Keel does not offer" in found[0].message
    assert fragment in found[0].message
    assert "did you mean" not in found[0].message


def test_an_unknown_action_of_no_tracecat_kind_still_gets_did_you_mean() -> None:
    found = problems("  - ref: a\n    action: core.transform.reshap\n")
    assert "did you mean 'core.transform.reshape'" in found[0].message


def test_lambda_arguments_of_core_http_actions_are_compiled_at_commit() -> None:
    found = problems(
        """\
  - ref: pages
    action: core.http_paginate
    args:
      url: https://example.com
      stop_condition: "lambda r: r.__class__"
      next_request: "lambda r: {}"
"""
    )
    assert [(p.field, p.line) for p in found] == [("args.stop_condition", 8)]
    assert "__class__" in found[0].message
