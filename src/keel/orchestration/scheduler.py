"""The DAG walk's decisions, as a pure state machine: which action runs, skips or breaks the join.

The Temporal workflow feeds this scheduler each action's outcome (succeeded, failed, skipped) and
asks which actions became decidable. Keeping these rules apart from Temporal makes them easy to
read, to unit-test exhaustively, and deterministic by construction (document order everywhere).

The rules (the spec's "Execution semantics"):

- An edge ``a`` / ``a.success`` is *taken* when ``a`` succeeded; ``a.error`` is taken when ``a``
  failed. An edge whose source finished the other way, or was skipped, is *not taken*.
- ``join_strategy: all``: the action runs when every edge is taken; it is skipped when none is;
  when some are taken and others not, the join can never be satisfied and the run fails with a
  message naming the action, the edge not taken and why (suggesting ``join_strategy: any``).
- ``join_strategy: any``: once every edge is decided, the action runs if at least one was taken,
  and is skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

EdgeKind = Literal["success", "error"]


class Outcome(StrEnum):
    """How an action ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Decision:
    """What to do with an action whose incoming edges are all decided.

    Attributes:
        ref: The action.
        run: Whether to run it (``False`` means skip it, unless ``broken_join`` is set).
        broken_join: A message explaining why an ``all`` join can never be satisfied.
    """

    ref: str
    run: bool
    broken_join: str | None = None


@dataclass(frozen=True)
class Node:
    """One action as the scheduler sees it.

    Attributes:
        ref: The action ref.
        upstream: Incoming edges as ``(source ref, kind)``, in document order.
        join: ``all`` or ``any``.
    """

    ref: str
    upstream: tuple[tuple[str, EdgeKind], ...]
    join: Literal["all", "any"] = "all"


class Scheduler:
    """Tracks outcomes and answers which actions can now be decided."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self._nodes = {n.ref: n for n in nodes}
        self._order = [n.ref for n in nodes]
        self._downstream: dict[str, list[str]] = {n.ref: [] for n in nodes}
        for node in nodes:
            for source, _ in node.upstream:
                if node.ref not in self._downstream[source]:
                    self._downstream[source].append(node.ref)
        self._outcomes: dict[str, Outcome] = {}
        self._skip_reasons: dict[str, str] = {}
        self._decided: set[str] = set()

    @property
    def outcomes(self) -> Mapping[str, Outcome]:
        """Return the outcome of every finished action."""
        return self._outcomes

    def roots(self) -> list[Decision]:
        """Return the decisions for the actions with no incoming edge (they always run)."""
        decisions = [Decision(ref, True) for ref in self._order if not self._nodes[ref].upstream]
        self._decided.update(d.ref for d in decisions)
        return decisions

    def error_handled(self, ref: str) -> bool:
        """Return whether some action depends on ``ref.error`` (so its failure is not fatal)."""
        return any((ref, "error") in self._nodes[child].upstream for child in self._downstream[ref])

    def finish(self, ref: str, outcome: Outcome, reason: str = "") -> list[Decision]:
        """Record that ``ref`` ended with ``outcome``; return the actions that became decidable.

        Args:
            ref: The action that ended.
            outcome: How it ended.
            reason: For a skip, why (used in broken-join messages).
        """
        self._outcomes[ref] = outcome
        self._decided.add(ref)
        if outcome is Outcome.SKIPPED and reason:
            self._skip_reasons[ref] = reason
        decisions = []
        for child in self._downstream[ref]:
            if child in self._decided:
                continue
            decision = self._decide(self._nodes[child])
            if decision is not None:
                self._decided.add(child)
                decisions.append(decision)
        return decisions

    def undecided(self) -> list[str]:
        """Return the actions that never got a decision (empty once the walk is complete)."""
        return [ref for ref in self._order if ref not in self._decided]

    def _decide(self, node: Node) -> Decision | None:
        taken: list[str] = []
        not_taken: list[tuple[str, EdgeKind]] = []
        for source, kind in node.upstream:
            outcome = self._outcomes.get(source)
            if outcome is None:
                return None
            if _edge_taken(outcome, kind):
                taken.append(source)
            else:
                not_taken.append((source, kind))
        if not taken:
            return Decision(node.ref, False)
        if node.join == "any" or not not_taken:
            return Decision(node.ref, True)
        source, kind = not_taken[0]
        return Decision(node.ref, False, broken_join=self._explain(node.ref, source, kind))

    def _explain(self, ref: str, source: str, kind: EdgeKind) -> str:
        outcome = self._outcomes[source]
        if outcome is Outcome.SKIPPED:
            why = self._skip_reasons.get(source, "it was skipped")
            detail = f"dependency '{source}' was skipped ({why})"
        elif kind == "error":
            detail = f"'{source}.error' was not taken because '{source}' succeeded"
        else:
            detail = f"'{source}' failed, so its success edge was not taken"
        return (
            f"action '{ref}' can never run: it joins all of its dependencies "
            f"(join_strategy: all), but {detail}. Use join_strategy: any to run it when at "
            "least one dependency succeeded."
        )


def _edge_taken(outcome: Outcome, kind: EdgeKind) -> bool:
    if kind == "error":
        return outcome is Outcome.FAILED
    return outcome is Outcome.SUCCEEDED


def nodes_from(
    actions: Iterable[tuple[str, Sequence[tuple[str, EdgeKind]], Literal["all", "any"]]],
) -> list[Node]:
    """Build scheduler nodes from ``(ref, upstream edges, join strategy)`` triples."""
    return [Node(ref, tuple(upstream), join) for ref, upstream, join in actions]
