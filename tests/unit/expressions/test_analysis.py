"""Static analysis: what a template refers to, and the problems found without a context."""

from __future__ import annotations

import pytest

from keel.expressions import FunctionCall, References, check, references
from keel.expressions.functions import FUNCTIONS, Function


@pytest.fixture(autouse=True)
def functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure the functions these tests name exist with the spec's arity."""
    standins = {
        "length": Function("length", len, 1, 1),
        "split": Function("split", str.split, 1, 2),
        "add": Function("add", lambda a, b: a + b, 2, 2),
        "concat": Function("concat", lambda *s: "".join(s), 0, None),
    }
    for name, function in standins.items():
        if name not in FUNCTIONS:
            monkeypatch.setitem(FUNCTIONS, name, function)


def test_references_of_every_context() -> None:
    refs = references(
        "${{ ACTIONS.fetch.result.x + ACTIONS['other'].result }} "
        "${{ SECRETS.github.token }} ${{ VARS.team.channel }} ${{ var.item }} "
        "${{ TRIGGER.a }} ${{ ENV.workflow.id }} ${{ inputs.x }} ${{ steps.s.result }}"
    )
    assert refs.actions == {"fetch", "other"}
    assert refs.secrets == {"github"}
    assert refs.vars == {"team"}
    assert refs.loop_vars == {"item"}
    assert refs.contexts == {
        "ACTIONS", "SECRETS", "VARS", "var", "TRIGGER", "ENV", "inputs", "steps"
    }  # fmt: skip
    assert refs.functions == ()


def test_references_of_functions_in_order() -> None:
    refs = references("${{ FN.add(FN.length(TRIGGER.y), 1) }} and ${{ FN.concat.map(['a'], 'b') }}")
    assert refs.functions == (
        FunctionCall("add", 2, False),
        FunctionCall("length", 1, False),
        FunctionCall("concat", 2, True),
    )
    assert "FN" in refs.contexts
    assert references("${{ int(TRIGGER.a) }}").functions == ()  # casts are not functions


def test_parent_paths_are_not_this_workflows_actions() -> None:
    refs = references("${{ PARENT.ACTIONS.a.result }} ${{ PARENT.PARENT.TRIGGER.x }}")
    assert refs.actions == frozenset()
    assert refs.contexts == {"PARENT"}


def test_references_inside_every_construct() -> None:
    template = (
        "${{ [ACTIONS.a.result] if {'k': ACTIONS.b.result}['k'] else "
        "-ACTIONS.c.result[ACTIONS.d.result] -> str }}"
    )
    assert references(template).actions == {"a", "b", "c", "d"}


def test_references_of_an_iterator_count_the_collection_not_the_bound_variable() -> None:
    refs = references("${{ for var.x in ACTIONS.list.result[var.offset] }}")
    assert refs.actions == {"list"}
    assert refs.loop_vars == {"offset"}


def test_references_without_expressions_or_with_bad_ones_are_empty() -> None:
    assert references("plain text") == References()
    assert references("${{ 1 + }}") == References()
    assert references("${{ ACTIONS[*].result }}").actions == frozenset()


def test_references_are_cached() -> None:
    assert references("${{ TRIGGER.a }}") is references("${{ TRIGGER.a }}")


def test_check_finds_nothing_in_good_templates() -> None:
    assert check("plain") == []
    assert check("${{ FN.length(TRIGGER.items) }} ${{ ACTIONS.a.result -> int }}") == []
    assert check("${{ for var.x in FN.split(TRIGGER.s, ',') }}") == []
    assert check("${{ TRIGGER.a[?x > 1].y }}") == []


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("${{ 1 + }}", "unexpected end of expression; expected a value in expression '1 +'"),
        ("${{ TRIGGER.a ) }}", "unexpected ')' at column 11"),
        ("${{ }}", "empty expression"),
        ("${{ FN.lenght(TRIGGER.y) }}", "unknown function 'FN.lenght'; did you mean 'FN.length'?"),
        ("${{ FN.zzzzzz(1) }}", "unknown function 'FN.zzzzzz' in expression 'FN.zzzzzz(1)'"),
        (
            "${{ FN.length() }}",
            "FN.length takes 1 argument(s), 0 given in expression 'FN.length()'",
        ),
        ("${{ FN.add(1, 2, 3) }}", "FN.add takes 2 argument(s), 3 given"),
        ("${{ FN.add.map() }}", "FN.add takes 2 argument(s), 0 given"),
        (
            "${{ TRIGER.a }}",
            "unknown context 'TRIGER'; did you mean 'TRIGGER'? in expression 'TRIGER.a'",
        ),
        ("${{ actions.a.result }}", "did you mean 'ACTIONS'?"),
        ("${{ FN }}", "'FN' is not a value"),
        ("${{ int }}", "'int' is a cast"),
        ("${{ in }}", "'in' cannot be used here"),
        ("${{ TRIGGER.a -> list }}", "unknown cast 'list': use int, float, str or bool"),
        ("${{ foo(1) }}", "'foo' is not a function"),
        ("${{ TRIGGER.a.`nosuch` }}", "invalid path"),
        ("${{ for x in [1] }}", "must be 'var.<name>', not 'x'"),
        ("x ${{ unclosed", "'${{' is never closed by '}}'"),
    ],
)
def test_check_reports_problems(template: str, problem: str) -> None:
    problems = check(template)
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_check_reports_every_problem_in_every_expression() -> None:
    problems = check("${{ FN.nope(1) + TRIGER.a }} ${{ ( }} ${{ FN.length(1, 2) }}")
    assert len(problems) == 4
    assert "FN.nope" in problems[0]
    assert "TRIGER" in problems[1]
    assert "unexpected" in problems[2]
    assert "FN.length takes 1" in problems[3]


def test_check_does_not_repeat_a_problem() -> None:
    assert len(check("${{ FOO.a + FOO.a }}")) == 1


def test_check_survives_deep_nesting() -> None:
    problems = check("${{ " + "-" * 3000 + "1 }}")
    assert problems == [] or "nested too deeply" in problems[0]
