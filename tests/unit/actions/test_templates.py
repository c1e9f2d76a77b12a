"""Action templates in Tracecat's format: loading, checks with file and line, and running."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

from keel.actions.registry import Registry, default_registry
from keel.actions.secrets import secrets_in_use
from keel.actions.template_runner import TemplateStepError
from keel.actions.templates import load_templates
from keel.dsl.validation import validate_text
from keel.errors import ActionArgumentError

GREET = """\
type: action
definition:
  name: greet_twice
  namespace: tools.testing
  title: Greet twice
  description: Greets, then shouts.
  display_group: Testing
  secrets:
    - name: testing
      keys: [token]
  expects:
    name: {type: str, description: Who}
    times: {type: int, default: 2}
    tags: {type: "list[str]", optional: true}
  steps:
    - ref: hello
      action: core.transform.reshape
      args:
        value: "Hello ${{ inputs.name }}"
    - ref: shout
      action: core.transform.apply
      args:
        value: ${{ steps.hello.result }}
        python_lambda: "lambda s: s.upper()"
  returns:
    text: ${{ steps.shout.result }}
    times: ${{ inputs.times }}
    token_length: ${{ FN.length(SECRETS.testing.token) }}
"""


def fresh_registry() -> Registry:
    registry = Registry()
    for spec in default_registry().specs():
        if spec.name.startswith("core."):
            registry.register(spec)
    return registry


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_template_registers_with_its_metadata_and_expects(tmp_path: Path) -> None:
    write(tmp_path, "greet.yml", GREET)
    registry = fresh_registry()
    assert load_templates(registry, [tmp_path]) == []
    spec = registry.get("tools.testing.greet_twice")
    assert (spec.kind, spec.title, spec.display_group) == ("template", "Greet twice", "Testing")
    assert spec.origin == str(tmp_path / "greet.yml")
    assert [(p.name, p.required, p.annotation_text) for p in spec.parameters] == [
        ("name", True, "str"),
        ("times", False, "int"),
        ("tags", False, "list[str]"),
    ]
    assert [s.name for s in registry.required_secrets(spec.name)] == ["testing"]


def test_a_template_runs_its_steps_and_returns(tmp_path: Path) -> None:
    write(tmp_path, "greet.yml", GREET)
    registry = fresh_registry()
    load_templates(registry, [tmp_path])
    spec = registry.get("tools.testing.greet_twice")
    args = spec.validate_args({"name": "ada"})
    with secrets_in_use({"testing": {"token": "abcd"}}):
        result = asyncio.run(spec.fn(**args))
    assert result == {"text": "HELLO ADA", "times": 2, "token_length": 4}


def test_arguments_are_checked_against_expects(tmp_path: Path) -> None:
    write(tmp_path, "greet.yml", GREET)
    registry = fresh_registry()
    load_templates(registry, [tmp_path])
    spec = registry.get("tools.testing.greet_twice")
    with pytest.raises(ActionArgumentError) as info:
        spec.validate_args({"name": {"a": 1}, "times": "x", "colour": 1})
    message = str(info.value)
    assert "unknown argument 'colour'" in message
    assert "argument 'name' must be str" in message
    assert "argument 'times' must be int" in message
    with pytest.raises(ActionArgumentError, match="missing required argument 'name'"):
        spec.validate_args({})


def test_a_failing_step_is_named_in_the_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fail.yml",
        """\
        type: action
        definition:
          name: divide
          namespace: tools.testing
          expects:
            n: {type: int}
          steps:
            - ref: ok
              action: core.transform.reshape
              args: {value: 1}
            - ref: boom
              action: core.transform.apply
              args: {value: "${{ inputs.n }}", python_lambda: "lambda n: 1 / n"}
        """,
    )
    registry = fresh_registry()
    assert load_templates(registry, [tmp_path]) == []
    spec = registry.get("tools.testing.divide")
    assert asyncio.run(spec.fn(n=2)) == 0.5  # no returns: the last step's result
    with pytest.raises(TemplateStepError) as info:
        asyncio.run(spec.fn(n=0))
    assert "template tools.testing.divide: step 'boom' (core.transform.apply) failed" in str(
        info.value
    )


def test_a_bad_file_is_reported_with_file_and_line_and_the_others_still_load(
    tmp_path: Path,
) -> None:
    write(tmp_path, "a_good.yml", GREET)
    write(tmp_path, "b_syntax.yml", "type: action\ndefinition: {name: [\n")
    write(
        tmp_path,
        "c_schema.yml",
        """\
        type: action
        definition:
          name: bad
          namespace: tools.testing
          steps:
            - ref: one
              action: core.transform.reshape
              colour: red
        """,
    )
    write(
        tmp_path,
        "d_unknown_step.yml",
        """\
        type: action
        definition:
          name: lost
          namespace: tools.testing
          steps:
            - ref: one
              action: tools.nowhere.nothing
        """,
    )
    write(
        tmp_path,
        "e_expression.yml",
        """\
        type: action
        definition:
          name: broken
          namespace: tools.testing
          steps:
            - ref: one
              action: core.transform.reshape
              args:
                value: ${{ inputs.x + }}
        """,
    )
    write(
        tmp_path,
        "f_default.yml",
        """\
        type: action
        definition:
          name: mistyped
          namespace: tools.testing
          expects:
            n: {type: int, default: "three"}
          steps:
            - ref: one
              action: core.transform.reshape
              args: {value: 1}
        """,
    )
    write(tmp_path, "g_not_a_template.yml", "title: a workflow\nactions: []\n")
    registry = fresh_registry()
    problems = {Path(p.source.split(":")[0]).name: p for p in load_templates(registry, [tmp_path])}
    assert "tools.testing.greet_twice" in registry
    assert sorted(problems) == [
        "b_syntax.yml",
        "c_schema.yml",
        "d_unknown_step.yml",
        "e_expression.yml",
        "f_default.yml",
        "g_not_a_template.yml",
    ]
    assert problems["b_syntax.yml"].source.endswith("b_syntax.yml:3")
    assert problems["c_schema.yml"].source.endswith("c_schema.yml:8")
    assert "colour" in problems["c_schema.yml"].message
    assert problems["d_unknown_step.yml"].source.endswith("d_unknown_step.yml:7")
    assert "unknown action 'tools.nowhere.nothing'" in problems["d_unknown_step.yml"].message
    assert problems["e_expression.yml"].source.endswith("e_expression.yml:9")
    assert problems["f_default.yml"].source.endswith("f_default.yml:6")
    assert "default" in problems["f_default.yml"].message
    assert "type: action" in problems["g_not_a_template.yml"].message


def test_templates_may_call_templates_whatever_the_file_order(tmp_path: Path) -> None:
    write(tmp_path, "b_greet.yml", GREET)
    write(
        tmp_path,
        "a_outer.yml",
        """\
        type: action
        definition:
          name: outer
          namespace: tools.testing
          steps:
            - ref: inner
              action: tools.testing.greet_twice
              args: {name: bob, times: 3}
          returns: ${{ steps.inner.result.times }}
        """,
    )
    registry = fresh_registry()
    assert load_templates(registry, [tmp_path]) == []
    # The outer template needs the inner one's secrets too.
    assert [s.name for s in registry.required_secrets("tools.testing.outer")] == ["testing"]
    with secrets_in_use({"testing": {"token": "t"}}):
        assert asyncio.run(registry.get("tools.testing.outer").fn()) == 3


def test_a_workflow_using_a_template_is_checked_at_commit(tmp_path: Path) -> None:
    write(tmp_path, "greet.yml", GREET)
    registry = fresh_registry()
    load_templates(registry, [tmp_path])
    document = """\
title: t
description: d
actions:
  - ref: a
    action: tools.testing.greet_twice
    args: {name: {first: ada}, times: 3, colour: red}
"""
    messages = [str(p) for p in validate_text(document, registry, file="wf.yml").errors]
    assert any("unknown argument 'colour'" in m for m in messages), messages
    assert any("argument 'name' must be str, got a mapping" in m for m in messages), messages


def run_template(registry: Registry, name: str, **args: Any) -> Any:
    return asyncio.run(registry.get(name).fn(**args))


def test_an_undeclared_secret_is_a_load_problem(tmp_path: Path) -> None:
    write(
        tmp_path,
        "leaky.yml",
        """\
        type: action
        definition:
          name: leaky
          namespace: tools.testing
          steps:
            - ref: one
              action: core.transform.reshape
              args:
                value: ${{ SECRETS.other.token }}
        """,
    )
    (problem,) = load_templates(fresh_registry(), [tmp_path])
    assert problem.source.endswith("leaky.yml:9")
    assert "reads SECRETS.other but the template does not declare it" in problem.message


def test_oauth_declarations_become_an_optional_token_secret(tmp_path: Path) -> None:
    write(
        tmp_path,
        "oauth.yml",
        """\
        type: action
        definition:
          name: whoami
          namespace: tools.testing
          secrets:
            - type: oauth
              provider_id: example_idp
              grant_type: client_credentials
              optional: true
          steps:
            - ref: token
              action: core.transform.reshape
              args:
                value: ${{ SECRETS.example_idp_oauth.TOKEN || "no token" }}
        """,
    )
    registry = fresh_registry()
    assert load_templates(registry, [tmp_path]) == []
    (declared,) = registry.required_secrets("tools.testing.whoami")
    assert (declared.name, declared.optional) == ("example_idp_oauth", True)
    spec = registry.get("tools.testing.whoami")
    assert asyncio.run(spec.fn()) == "no token"
    with secrets_in_use({"example_idp_oauth": {"TOKEN": "t0k"}}):
        assert asyncio.run(spec.fn()) == "t0k"


def test_a_child_workflow_cannot_be_a_step(tmp_path: Path) -> None:
    write(
        tmp_path,
        "child.yml",
        """\
        type: action
        definition:
          name: child
          namespace: tools.testing
          steps:
            - ref: run
              action: core.workflow.execute
              args: {workflow_alias: other}
        """,
    )
    (problem,) = load_templates(fresh_registry(), [tmp_path])
    assert problem.source.endswith("child.yml:7")
    assert "which the workflow itself runs" in problem.message
