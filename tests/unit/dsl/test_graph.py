"""The action graph: edges, every graph rule with its place, and the walk order."""

from __future__ import annotations

import pytest

from keel.dsl.diagnostics import Problem
from keel.dsl.graph import Edge, Graph, build_graph, parse_edge
from keel.dsl.loader import load_workflow
from keel.dsl.model import ActionStatement


def _graph(text: str, **kwargs: bool) -> tuple[Graph | None, list[Problem]]:
    header = "title: t\ndescription: d\n"
    result = load_workflow(header + text, file="w.yml")
    assert result.workflow is not None, result.problems
    return build_graph(result.workflow, result.source, file="w.yml", **kwargs)


def _errors(text: str, **kwargs: bool) -> list[Problem]:
    graph, problems = _graph(text, **kwargs)
    assert graph is None
    return [p for p in problems if p.severity == "error"]


@pytest.mark.parametrize(
    ("entry", "edge"),
    [
        ("a", Edge("a", "success")),
        ("a.success", Edge("a", "success")),
        ("a.error", Edge("a", "error")),
        ("fetch_2", Edge("fetch_2", "success")),
    ],
)
def test_parse_edge(entry: str, edge: Edge) -> None:
    assert parse_edge(entry) == edge


@pytest.mark.parametrize("entry", ["a.foo", "A", "", "a.", ".error", "a.error.x", "a b"])
def test_parse_edge_rejects_malformed(entry: str) -> None:
    with pytest.raises(ValueError, match="not a valid dependency"):
        parse_edge(entry)


def test_edge_str() -> None:
    assert str(Edge("a")) == "a"
    assert str(Edge("a", "error")) == "a.error"


DIAMOND = """\
actions:
  - {ref: start, action: x}
  - {ref: left, action: x, depends_on: [start]}
  - {ref: on_fail, action: x, depends_on: [start.error]}
  - {ref: right, action: x, depends_on: [start.success]}
  - {ref: join, action: x, depends_on: [right, left, on_fail], join_strategy: any}
"""


def test_graph_queries() -> None:
    graph, problems = _graph(DIAMOND)
    assert problems == []
    assert graph is not None
    assert graph.roots == ("start",)
    assert graph.refs == ("start", "left", "on_fail", "right", "join")
    assert graph.upstream("join") == (Edge("right"), Edge("left"), Edge("on_fail"))
    assert graph.upstream("start") == ()
    assert graph.downstream("start") == (
        ("left", "success"),
        ("on_fail", "error"),
        ("right", "success"),
    )
    assert graph.downstream("join") == ()
    assert graph.action("join").join_strategy == "any"
    assert graph.ancestors("join") == {"start", "left", "on_fail", "right"}
    assert graph.ancestors("start") == frozenset()
    assert "left" in graph and "nope" not in graph
    assert len(graph) == 5


def test_topological_order_is_stable_by_document_order() -> None:
    graph, _ = _graph(DIAMOND)
    assert graph is not None
    assert graph.topological_order() == ["start", "left", "on_fail", "right", "join"]
    text = """\
actions:
  - {ref: root, action: x}
  - {ref: late, action: x, depends_on: [mid]}
  - {ref: b, action: x, depends_on: [root]}
  - {ref: mid, action: x, depends_on: [root]}
  - {ref: a, action: x, depends_on: [root]}
"""
    graph, _ = _graph(text)
    assert graph is not None
    assert graph.topological_order() == ["root", "b", "mid", "late", "a"]


def test_graph_from_bare_actions() -> None:
    actions = [ActionStatement(ref="a", action="x"), ActionStatement(ref="b", action="x")]
    graph, problems = build_graph(actions, single_root=False)
    assert problems == []
    assert graph is not None
    assert graph.roots == ("a", "b")


def test_duplicate_refs_name_both_lines() -> None:
    text = (
        "actions:\n  - {ref: a, action: x}\n  - {ref: b, action: x, depends_on: [a]}\n"
        "  - {ref: a, action: y, depends_on: [b]}\n"
    )
    (problem,) = _errors(text)
    assert (problem.line, problem.ref, problem.field) == (6, "a", "ref")
    assert problem.message == (
        "duplicate ref 'a': already used by the action at line 4; refs must be unique"
    )


def test_unknown_dependency_with_did_you_mean() -> None:
    text = (
        "actions:\n  - {ref: fetch, action: x}\n  - ref: b\n    action: x\n"
        "    depends_on:\n      - fetch\n      - fecth\n"
    )
    (problem,) = _errors(text)
    assert (problem.line, problem.ref, problem.field) == (9, "b", "depends_on")
    assert problem.message == "depends on unknown action 'fecth'; did you mean 'fetch'?"


def test_malformed_edge() -> None:
    (problem,) = _errors(
        "actions:\n  - {ref: a, action: x}\n  - {ref: b, action: x, depends_on: [a.foo]}\n"
    )
    assert (problem.line, problem.ref, problem.field) == (5, "b", "depends_on")
    assert "'a.foo' is not a valid dependency" in problem.message


def test_self_dependency() -> None:
    (problem,) = _errors(
        "actions:\n  - {ref: a, action: x}\n  - {ref: b, action: x, depends_on: [a, b.error]}\n"
    )
    assert problem.message == "action 'b' depends on itself"
    assert problem.ref == "b"


def test_no_root() -> None:
    text = (
        "actions:\n  - {ref: a, action: x, depends_on: [b]}\n"
        "  - {ref: b, action: x, depends_on: [a]}\n"
    )
    problems = _errors(text)
    messages = [p.message for p in problems]
    assert any(m.startswith("the workflow has no root action") for m in messages)
    assert any(m.startswith("dependency cycle: a -> b -> a") for m in messages)


def test_several_roots_are_named() -> None:
    text = (
        "actions:\n  - {ref: a, action: x}\n  - {ref: b, action: x}\n"
        "  - {ref: c, action: x, depends_on: [a]}\n  - {ref: d, action: x}\n"
    )
    (problem,) = _errors(text)
    assert problem.message.startswith("the workflow has 3 root actions (a, b, d) but must have")
    assert problem.line == 5
    graph, problems = _graph(text, single_root=False)
    assert problems == []
    assert graph is not None
    assert graph.roots == ("a", "b", "d")


def test_second_root_beside_entrypoint() -> None:
    text = "entrypoint: {ref: a}\nactions:\n  - {ref: a, action: x}\n  - {ref: b, action: x}\n"
    (problem,) = _errors(text)
    assert (problem.ref, problem.line) == ("b", 6)
    assert "second root beside the entrypoint 'a'" in problem.message


def test_entrypoint_must_exist() -> None:
    text = "entrypoint:\n  ref: strat\nactions:\n  - {ref: start, action: x}\n"
    (problem,) = _errors(text)
    assert (problem.line, problem.field, problem.ref) == (4, "entrypoint.ref", None)
    assert problem.message == "entrypoint.ref 'strat' names no action; did you mean 'start'?"


def test_entrypoint_must_be_the_root() -> None:
    text = (
        "entrypoint: {ref: b}\nactions:\n  - {ref: a, action: x}\n"
        "  - {ref: b, action: x, depends_on: [a]}\n"
    )
    (problem,) = _errors(text)
    assert problem.field == "entrypoint.ref"
    assert problem.message.startswith("entrypoint.ref 'b' is not a root: it depends on a;")


def test_cycles_are_named_in_order() -> None:
    text = """\
actions:
  - {ref: root, action: x}
  - {ref: a, action: x, depends_on: [root, c]}
  - {ref: b, action: x, depends_on: [a]}
  - {ref: c, action: x, depends_on: [b.error]}
  - {ref: d, action: x, depends_on: [e]}
  - {ref: e, action: x, depends_on: [d]}
"""
    problems = _errors(text)
    cycles = [p for p in problems if p.message.startswith("dependency cycle")]
    assert [p.message.split(" (")[0] for p in cycles] == [
        "dependency cycle: a -> b -> c -> a",
        "dependency cycle: d -> e -> d",
    ]
    assert [(p.ref, p.field, p.line) for p in cycles] == [
        ("a", "depends_on", 5),
        ("d", "depends_on", 8),
    ]


def test_warnings_keep_the_graph() -> None:
    text = (
        "actions:\n  - {ref: a, action: x}\n"
        "  - {ref: b, action: x, depends_on: [a, a.success, a.error]}\n"
    )
    graph, problems = _graph(text)
    assert graph is not None
    assert {p.severity for p in problems} == {"warning"}
    messages = sorted(p.message for p in problems)
    assert messages[0] == "'a.success' is listed twice in depends_on"
    assert messages[1].startswith("depends on both 'a' and 'a.error'")
    assert graph.upstream("b") == (Edge("a"), Edge("a", "error"))
    any_join = text.replace("]}\n", "], join_strategy: any}\n")
    _, problems = _graph(any_join)
    assert [p.message for p in problems] == ["'a.success' is listed twice in depends_on"]


def test_all_problems_at_once() -> None:
    text = (
        "actions:\n  - {ref: a, action: x, depends_on: [zz]}\n"
        "  - {ref: a, action: x, depends_on: [a.bad]}\n"
    )
    problems = _errors(text)
    assert len(problems) == 4  # duplicate ref, unknown dependency, malformed edge, no root
