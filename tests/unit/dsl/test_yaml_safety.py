"""YAML is read with bounds everywhere: alias bombs, recursive aliases and deep nesting."""

from __future__ import annotations

import tracemalloc

import pytest
import yaml

from keel.dsl.loader import load_workflow, parse_workflow
from keel.dsl.yaml_safety import YamlLimitError, describe, load
from keel.errors import DefinitionError
from keel.expressions.limits import Limits, limits_set

#: 475 bytes that expand to 10**7 strings (the review's bomb in a workflow file).
WORKFLOW_BOMB = """title: bomb
description: aliases all the way down
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
actions:
  - ref: a
    action: core.transform.reshape
    args: {value: *g}
"""


def test_a_workflow_alias_bomb_is_a_problem_naming_file_line_and_setting() -> None:
    tracemalloc.start()
    try:
        result = load_workflow(WORKFLOW_BOMB, file="bomb.yml")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not result.ok
    [problem] = result.problems
    assert problem.file == "bomb.yml"
    assert problem.line == 7  # the alias that passed the bound (*d, on e's line)
    assert "aliases expand the document by more than 100,000 nodes" in problem.message
    assert "KEEL_YAML_ALIAS_NODES" in problem.message
    assert peak < 20 * 1024 * 1024, f"peak {peak:,} bytes"  # was 463 MB


def test_parse_workflow_refuses_the_bomb_with_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="aliases expand"):
        parse_workflow(WORKFLOW_BOMB, file="bomb.yml")


def test_aliases_within_the_bound_still_work() -> None:
    text = """title: t
description: d
defaults: &retry {max_attempts: 2}
actions:
  - ref: a
    action: core.transform.reshape
    retry_policy: *retry
    args: {value: 1}
"""
    workflow = parse_workflow(text)
    assert workflow.actions[0].retry_policy.max_attempts == 2


def test_the_bound_is_the_one_in_force() -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a]\n"
    assert load(text) == {"a": [1, 2, 3], "b": [[1, 2, 3], [1, 2, 3]]}
    with limits_set(Limits(yaml_nodes=5)):
        result = load_workflow(text, file="w.yml")
    assert "more than 5 nodes" in result.problems[0].message
    with pytest.raises(YamlLimitError):
        load(text, max_alias_nodes=5)


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlLimitError, match="refers to a node that contains it") as info:
        load("a: &a [1, *a]\n")
    assert describe(info.value).endswith("(line 1, column 11)")
    [problem] = load_workflow("a: &a {b: *a}\n", file="r.yml").problems
    assert "recursive document" in problem.message
    assert problem.line == 1


@pytest.mark.parametrize(
    ("text", "file"),
    [
        ("[" * 5000 + "]" * 5000, "deep.yml"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "deep.json"),
    ],
)
def test_deep_nesting_is_a_problem_not_a_crash(text: str, file: str) -> None:
    [problem] = load_workflow(text, file=file).problems
    assert "nested too deeply" in problem.message
    assert problem.file == file


def test_load_is_yaml_safe_load_with_bounds() -> None:
    assert load("a: 1\nb: [x, {c: null}]\n") == {"a": 1, "b": ["x", {"c": None}]}
    assert load("") is None
    with pytest.raises(yaml.YAMLError):
        load("!!python/object:os.system {}")
    with pytest.raises(yaml.YAMLError):
        load("a: [")
