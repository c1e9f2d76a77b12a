"""The DAG walk's rules, decided by the pure scheduler (no Temporal needed)."""

from __future__ import annotations

from keel.orchestration.scheduler import Decision, Node, Outcome, Scheduler


def sched(*nodes: Node) -> Scheduler:
    return Scheduler(list(nodes))


def test_roots_run_first_in_document_order() -> None:
    s = sched(Node("a", ()), Node("b", (("a", "success"),)))
    assert s.roots() == [Decision("a", True)]
    assert s.undecided() == ["b"]


def test_success_edge_runs_child_and_error_edge_skips() -> None:
    s = sched(
        Node("a", ()),
        Node("ok", (("a", "success"),)),
        Node("handler", (("a", "error"),)),
    )
    s.roots()
    assert s.finish("a", Outcome.SUCCEEDED) == [Decision("ok", True), Decision("handler", False)]


def test_failure_takes_error_edge_and_not_success_edge() -> None:
    s = sched(
        Node("a", ()),
        Node("ok", (("a", "success"),)),
        Node("handler", (("a", "error"),)),
    )
    s.roots()
    assert s.error_handled("a")
    assert s.finish("a", Outcome.FAILED) == [Decision("ok", False), Decision("handler", True)]


def test_error_handled_is_false_without_error_edge() -> None:
    s = sched(Node("a", ()), Node("b", (("a", "success"),)))
    assert not s.error_handled("a")


def test_join_all_waits_for_every_dependency() -> None:
    s = sched(
        Node("a", ()),
        Node("b", (("a", "success"),)),
        Node("c", (("a", "success"),)),
        Node("d", (("b", "success"), ("c", "success"))),
    )
    s.roots()
    s.finish("a", Outcome.SUCCEEDED)
    assert s.finish("b", Outcome.SUCCEEDED) == []
    assert s.finish("c", Outcome.SUCCEEDED) == [Decision("d", True)]


def test_join_all_with_a_skipped_dependency_is_a_broken_join_naming_it() -> None:
    s = sched(
        Node("a", ()),
        Node("b", (("a", "success"),)),
        Node("c", (("a", "success"),)),
        Node("d", (("b", "success"), ("c", "success"))),
    )
    s.roots()
    s.finish("a", Outcome.SUCCEEDED)
    s.finish("b", Outcome.SKIPPED, "run_if was false: ${{ False }}")
    (decision,) = s.finish("c", Outcome.SUCCEEDED)
    assert decision.ref == "d" and not decision.run
    assert decision.broken_join is not None
    assert "'d'" in decision.broken_join
    assert "'b' was skipped (run_if was false" in decision.broken_join
    assert "join_strategy: any" in decision.broken_join


def test_join_any_runs_when_one_succeeded_and_the_rest_are_decided() -> None:
    s = sched(
        Node("a", ()),
        Node("b", (("a", "success"),)),
        Node("c", (("a", "success"),)),
        Node("d", (("b", "success"), ("c", "success")), join="any"),
    )
    s.roots()
    s.finish("a", Outcome.SUCCEEDED)
    assert s.finish("b", Outcome.SKIPPED) == []
    assert s.finish("c", Outcome.SUCCEEDED) == [Decision("d", True)]


def test_join_any_skips_when_nothing_was_taken() -> None:
    s = sched(
        Node("a", ()),
        Node("b", (("a", "success"),)),
        Node("d", (("a", "error"), ("b", "success")), join="any"),
    )
    s.roots()
    decisions = s.finish("a", Outcome.SUCCEEDED)
    assert decisions == [Decision("b", True)]
    assert s.finish("b", Outcome.SKIPPED) == [Decision("d", False)]


def test_all_skipped_dependencies_skip_the_child() -> None:
    s = sched(Node("a", ()), Node("b", (("a", "success"),)), Node("c", (("b", "success"),)))
    s.roots()
    assert s.finish("a", Outcome.SKIPPED) == [Decision("b", False)]
    assert s.finish("b", Outcome.SKIPPED) == [Decision("c", False)]
    assert s.undecided() == []


def test_broken_join_explains_an_error_edge_not_taken() -> None:
    s = sched(
        Node("a", ()),
        Node("b", (("a", "success"),)),
        Node("d", (("a", "error"), ("b", "success"))),
    )
    s.roots()
    s.finish("a", Outcome.SUCCEEDED)
    (decision,) = s.finish("b", Outcome.SUCCEEDED)
    assert decision.broken_join is not None
    assert "'a.error' was not taken because 'a' succeeded" in decision.broken_join


def test_a_child_is_decided_once_even_with_duplicate_edges() -> None:
    s = sched(Node("a", ()), Node("b", (("a", "success"), ("a", "success"))))
    s.roots()
    assert s.finish("a", Outcome.SUCCEEDED) == [Decision("b", True)]
    assert s.outcomes == {"a": Outcome.SUCCEEDED}
