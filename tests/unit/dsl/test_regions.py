"""Region analysis: which actions a scatter or loop runs per item/pass, and the commit-time rules."""

from __future__ import annotations

from keel.actions.registry import default_registry
from keel.dsl.diagnostics import Problem
from keel.dsl.loader import parse_workflow
from keel.dsl.regions import RegionMap, analyze_regions
from keel.dsl.validation import validate_text

HEAD = "title: t\ndescription: d\nactions:\n"


def act(ref: str, action: str, after: str = "", args: str = "") -> str:
    text = f"  - ref: {ref}\n    action: {action}\n"
    if after:
        text += f"    depends_on: [{after}]\n"
    if args:
        text += f"    args: {args}\n"
    return text


def plain(ref: str, after: str = "", value: str = "1") -> str:
    return act(ref, "core.transform.reshape", after, f"{{value: {value}}}")


def scatter(ref: str, after: str = "") -> str:
    return act(ref, "core.transform.scatter", after, "{collection: [1, 2]}")


def gather(ref: str, after: str, items: str = "1") -> str:
    return act(ref, "core.transform.gather", after, f"{{items: {items}}}")


def loop_end(ref: str, after: str) -> str:
    return act(ref, "core.loop.end", after, "{condition: false}")


def analyze(actions: str) -> tuple[RegionMap, list[Problem]]:
    workflow = parse_workflow(HEAD + actions)
    return analyze_regions(workflow.actions)


def errors(actions: str) -> list[Problem]:
    result = validate_text(HEAD + actions, default_registry(), file="wf.yml")
    return [p for p in result.problems if p.severity == "error"]


def test_a_scatter_region_holds_the_actions_up_to_its_gather() -> None:
    plan, problems = analyze(
        plain("a")
        + scatter("s", "a")
        + plain("x", "s")
        + plain("y", "x")
        + gather("g", "y")
        + plain("z", "g")
    )
    assert problems == []
    region = plan.regions["s"]
    assert (region.kind, region.closer, region.body, region.parent) == (
        "scatter",
        "g",
        ("x", "y", "g"),
        None,
    )
    assert plan.top == ("a", "s", "g", "z")
    assert plan.scopes["x"] == ("s",) and plan.scopes["g"] == ("s",) and plan.scopes["z"] == ()


def test_nested_regions_each_close_the_innermost() -> None:
    plan, problems = analyze(
        scatter("outer")
        + act("pass_", "core.loop.start", "outer")
        + plain("x", "pass_")
        + loop_end("until", "x")
        + gather("g", "until")
    )
    assert problems == []
    assert plan.regions["pass_"].parent == "outer"
    assert plan.regions["pass_"].body == ("x", "until")
    assert plan.regions["outer"].body == ("pass_", "until", "g")
    assert plan.scopes["x"] == ("outer", "pass_")


def test_visibility_stops_at_the_region_edge_except_through_the_closer() -> None:
    plan, _ = analyze(scatter("s") + plain("x", "s") + gather("g", "x") + plain("z", "g"))
    assert plan.visible("x", "s")  # the item
    assert plan.visible("g", "x")  # the gather reads its stream's values
    assert not plan.visible("z", "x")
    assert plan.visible("z", "g")
    assert not plan.visible(None, "x")  # the document's returns


def test_a_gather_without_a_scatter_is_refused_with_its_line() -> None:
    [problem] = errors(plain("a") + gather("g", "a"))
    assert problem.ref == "g"
    assert problem.line == 8  # its `action:` line
    assert "gather 'g' has no open scatter upstream" in problem.message


def test_an_unclosed_loop_is_refused_and_an_ungathered_scatter_warned() -> None:
    [problem] = errors(act("l", "core.loop.start") + plain("x", "l"))
    assert problem.ref == "l" and "loop start 'l' is never closed" in problem.message
    _, problems = analyze(scatter("s") + plain("x", "s"))
    [warning] = problems
    assert warning.severity == "warning" and "never gathered" in warning.message


def test_regions_that_cross_are_refused() -> None:
    found = errors(
        act("l", "core.loop.start")
        + scatter("s", "l")
        + plain("x", "s")
        + loop_end("e", "x")
        + gather("g", "e")
    )
    assert any(
        p.ref == "e"
        and "would close scatter 's'" in p.message
        and "regions cannot cross" in p.message
        for p in found
    ), found


def test_joining_the_inside_of_a_region_with_its_outside_is_refused() -> None:
    found = errors(
        plain("a")
        + scatter("s", "a")
        + plain("x", "s")
        + gather("g", "x")
        + act("z", "core.transform.reshape", "x, a", "{value: 1}")
    )
    [problem] = [p for p in found if p.ref == "z"]
    assert problem.field == "depends_on"
    assert "inside scatter 's'" in problem.message and "gather 'g'" in problem.message


def test_reading_a_region_action_from_outside_is_refused_naming_the_closer() -> None:
    [problem] = errors(
        scatter("s")
        + plain("x", "s")
        + gather("g", "x")
        + plain("z", "g", "'${{ ACTIONS.x.result }}'")
    )
    assert problem.ref == "z" and problem.field == "args.value"
    assert "'ACTIONS.x' runs inside the region opened by 's' (once per item)" in problem.message
    assert "read the result of 'g' instead" in problem.message


def test_two_gathers_for_one_scatter_are_refused() -> None:
    found = errors(scatter("s") + plain("x", "s") + gather("g1", "x") + gather("g2", "x"))
    assert any("already closed by 'g1'" in p.message for p in found), found


def test_closer_arguments_written_as_literals_are_checked() -> None:
    found = errors(
        act("l", "core.loop.start")
        + act("e", "core.loop.end", "l", "{condition: true, max_iterations: 0}")
        + act("s", "core.transform.scatter", "e", "{collection: [1]}")
        + act("g", "core.transform.gather", "s", "{items: 1, error_strategy: ignore}")
    )
    messages = sorted(p.message for p in found)
    assert any("max_iterations must be between 1 and 1000" in m for m in messages), messages
    assert any("error_strategy 'ignore' is not one of" in m for m in messages), messages


def test_a_valid_loop_and_scatter_document_has_no_errors() -> None:
    assert (
        errors(
            act("l", "core.loop.start")
            + plain("x", "l", "'${{ ACTIONS.l.result.iteration }}'")
            + act("e", "core.loop.end", "x", "{condition: '${{ ACTIONS.x.result < 3 }}'}")
            + plain("after", "e", "'${{ ACTIONS.e.result.iterations }}'")
        )
        == []
    )


def test_inside_a_loop_an_action_may_read_its_last_pass_result() -> None:
    body = "'${{ (ACTIONS.x.result || 0) + 1 }}'"
    loop = act("l", "core.loop.start") + plain("x", "l", body)
    assert errors(loop + loop_end("e", "x")) == []
    [problem] = errors(plain("x", "", body))
    assert "refers to its own result" in problem.message


def test_a_child_workflow_inside_a_region_is_accepted() -> None:
    body = act(
        "kid", "core.workflow.execute", "items", "{workflow_alias: child, trigger_inputs: {}}"
    )
    assert errors(scatter("items") + body + gather("done", "kid")) == []
    looped = act("again", "core.loop.start") + act(
        "kid", "core.workflow.execute", "again", "{workflow_alias: child}"
    )
    assert errors(looped + loop_end("until", "kid")) == []
