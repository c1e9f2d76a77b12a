"""A workflow's DAG as plain nodes and edges, for drawing (the console, the API).

Pure: it reads a validated :class:`~keel.dsl.model.Workflow` and says what to draw, nothing about
where (the console lays the graph out in the browser). An edge carries its kind (``success`` or
``error``, from ``depends_on``) and, when the action it leads to has a ``run_if``, that condition,
since the condition decides whether the edge is taken.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from keel.dsl.graph import parse_edge
from keel.dsl.model import Workflow


@dataclass(frozen=True)
class DiagramNode:
    """One action of the DAG.

    Attributes:
        ref: The action's ref.
        action: The registered action it runs (``core.http_request``...).
        for_each: The ``for_each`` iterator, when the action runs once per item.
        run_if: The ``run_if`` condition, when it has one.
        join_strategy: ``all`` or ``any`` (how it waits for several dependencies).
        root: Whether it is the entrypoint (the action with no dependencies).
    """

    ref: str
    action: str
    for_each: str | None = None
    run_if: str | None = None
    join_strategy: str = "all"
    root: bool = False


@dataclass(frozen=True)
class DiagramEdge:
    """One dependency: ``target`` runs after ``source`` ends with ``kind``.

    Attributes:
        source: The upstream action's ref.
        target: The downstream action's ref.
        kind: ``success`` or ``error``.
        condition: The target's ``run_if``, when it has one.
    """

    source: str
    target: str
    kind: str
    condition: str | None = None

    @property
    def label(self) -> str:
        """Return the edge's caption: its kind, and ``run_if`` when a condition guards it."""
        return f"{self.kind} + run_if" if self.condition else self.kind


@dataclass(frozen=True)
class Diagram:
    """A workflow's DAG: its actions in document order and their dependencies."""

    nodes: list[DiagramNode] = field(default_factory=list)
    edges: list[DiagramEdge] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the diagram as JSON data (each edge with its ``label``)."""
        return {
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [{**asdict(e), "label": e.label} for e in self.edges],
        }


def diagram(workflow: Workflow) -> Diagram:
    """Return the nodes and edges of ``workflow``'s DAG (a validated definition)."""
    nodes: list[DiagramNode] = []
    edges: list[DiagramEdge] = []
    for stmt in workflow.actions:
        for_each = (
            stmt.for_each if not isinstance(stmt.for_each, list) else "; ".join(stmt.for_each)
        )
        nodes.append(
            DiagramNode(
                ref=stmt.ref,
                action=stmt.action,
                for_each=for_each,
                run_if=stmt.run_if,
                join_strategy=str(stmt.join_strategy),
                root=not stmt.depends_on,
            )
        )
        for entry in stmt.depends_on:
            edge = parse_edge(entry)
            edges.append(DiagramEdge(edge.source, stmt.ref, edge.kind, stmt.run_if))
    return Diagram(nodes, edges)
