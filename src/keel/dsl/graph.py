"""The action graph of a workflow: its edges, its checks, and the order a run walks it in.

:func:`build_graph` checks the rules of the format's "Graph" section (unique refs, known and
well-formed ``depends_on`` entries, exactly one root that is the entrypoint, no cycles) and, when
they hold, returns an immutable :class:`Graph` that the Temporal workflow walks. Everything here is
a pure function of the model.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from keel.dsl.cycles import find_cycles
from keel.dsl.diagnostics import Problem, Severity, did_you_mean
from keel.dsl.model import ActionStatement, Workflow
from keel.dsl.source import SourceMap

EdgeKind = Literal["success", "error"]

_EDGE = re.compile(r"^(?P<source>[a-z0-9_]+)(?:\.(?P<kind>success|error))?$")


@dataclass(frozen=True)
class Edge:
    """An incoming edge of an action: run after ``source`` succeeded, or only if it failed.

    Attributes:
        source: The ref of the upstream action.
        kind: ``success`` (``"a"`` or ``"a.success"``) or ``error`` (``"a.error"``).
    """

    source: str
    kind: EdgeKind = "success"

    def __str__(self) -> str:
        return self.source if self.kind == "success" else f"{self.source}.{self.kind}"


def parse_edge(entry: str) -> Edge:
    """Return the edge a ``depends_on`` entry stands for.

    Raises:
        ValueError: The entry is not ``ref``, ``ref.success`` or ``ref.error`` with a valid ref.
    """
    match = _EDGE.match(entry) if isinstance(entry, str) else None
    if match is None:
        raise ValueError(
            f"'{entry}' is not a valid dependency: write 'ref', 'ref.success' or 'ref.error' "
            "(refs are lowercase letters, digits and underscores)"
        )
    kind: EdgeKind = "error" if match["kind"] == "error" else "success"
    return Edge(match["source"], kind)


@dataclass(frozen=True)
class Graph:
    """The checked, immutable action graph of a workflow.

    Build it with :func:`build_graph`. Refs are unique; every edge names an existing action.
    """

    _actions: Mapping[str, ActionStatement]
    _upstream: Mapping[str, tuple[Edge, ...]]
    _downstream: Mapping[str, tuple[tuple[str, EdgeKind], ...]]
    _order: tuple[str, ...]
    roots: tuple[str, ...]

    @property
    def refs(self) -> tuple[str, ...]:
        """Return every ref, in document order."""
        return tuple(self._actions)

    def action(self, ref: str) -> ActionStatement:
        """Return the action named ``ref`` (``KeyError`` if there is none)."""
        return self._actions[ref]

    def upstream(self, ref: str) -> tuple[Edge, ...]:
        """Return the incoming edges of ``ref``, in ``depends_on`` order."""
        return self._upstream[ref]

    def downstream(self, ref: str) -> tuple[tuple[str, EdgeKind], ...]:
        """Return ``(dependent ref, edge kind)`` per edge out of ``ref``, in document order."""
        return self._downstream[ref]

    def topological_order(self) -> list[str]:
        """Return every ref so that each comes after its dependencies; ties keep document order."""
        return list(self._order)

    def ancestors(self, ref: str) -> frozenset[str]:
        """Return the refs that ``ref`` (transitively) depends on, through any kind of edge."""
        seen: set[str] = set()
        stack = [edge.source for edge in self._upstream[ref]]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(edge.source for edge in self._upstream[current])
        return frozenset(seen)

    def __contains__(self, ref: object) -> bool:
        return ref in self._actions

    def __len__(self) -> int:
        return len(self._actions)


def build_graph(
    workflow: Workflow | Sequence[ActionStatement],
    source: SourceMap | None = None,
    *,
    file: str | None = None,
    single_root: bool = True,
) -> tuple[Graph | None, list[Problem]]:
    """Check the graph rules and return the graph (``None`` if any rule is broken) and problems.

    Args:
        workflow: The workflow, or just its actions (then no entrypoint check is made).
        source: The document's source map, so that problems carry lines.
        file: The document's file name, for the problems.
        single_root: Whether exactly one root is required (a committed workflow); with ``False``
            several roots are allowed (a draft run on its own), but never none.
    """
    actions = list(workflow.actions if isinstance(workflow, Workflow) else workflow)
    entry_ref = workflow.entrypoint.ref if isinstance(workflow, Workflow) else None
    checker = _Checker(actions, source or SourceMap(), file)
    problems = list(checker.check(entry_ref, single_root))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return checker.graph(), problems


class _Checker:
    """Runs the graph rules over a list of actions and builds the graph when they hold."""

    def __init__(self, actions: list[ActionStatement], source: SourceMap, file: str | None) -> None:
        self.actions = actions
        self.source = source
        self.file = file
        self.index: dict[str, int] = {}
        for i, stmt in enumerate(actions):
            self.index.setdefault(stmt.ref, i)
        self.edges: dict[str, list[Edge]] = {ref: [] for ref in self.index}

    def problem(
        self,
        message: str,
        path: tuple[str | int, ...],
        *,
        ref: str | None = None,
        field: str | None = None,
        severity: Severity = "error",
    ) -> Problem:
        line = self.source.line(path)
        return Problem(message, file=self.file, line=line, ref=ref, field=field, severity=severity)

    def check(self, entry_ref: str | None, single_root: bool) -> Iterator[Problem]:
        yield from self._duplicates()
        yield from self._edges()
        roots = [ref for ref, i in self.index.items() if not self.actions[i].depends_on]
        yield from self._roots(roots, entry_ref, single_root)
        yield from self._cycles()

    def _duplicates(self) -> Iterator[Problem]:
        for i, stmt in enumerate(self.actions):
            first = self.index[stmt.ref]
            if first != i:
                first_line = self.source.line(("actions", first))
                where = f" at line {first_line}" if first_line is not None else ""
                yield self.problem(
                    f"duplicate ref '{stmt.ref}': already used by the action{where}; "
                    "refs must be unique",
                    ("actions", i, "ref"),
                    ref=stmt.ref,
                    field="ref",
                )

    def _edges(self) -> Iterator[Problem]:
        for i, stmt in enumerate(self.actions):
            seen: dict[Edge, int] = {}
            for j, entry in enumerate(stmt.depends_on):
                path = ("actions", i, "depends_on", j)
                try:
                    edge = parse_edge(entry)
                except ValueError as exc:
                    yield self.problem(str(exc), path, ref=stmt.ref, field="depends_on")
                    continue
                if edge.source == stmt.ref:
                    yield self.problem(
                        f"action '{stmt.ref}' depends on itself",
                        path,
                        ref=stmt.ref,
                        field="depends_on",
                    )
                    continue
                if edge.source not in self.index:
                    hint = did_you_mean(edge.source, list(self.index))
                    yield self.problem(
                        f"depends on unknown action '{edge.source}'{hint}",
                        path,
                        ref=stmt.ref,
                        field="depends_on",
                    )
                    continue
                if edge in seen:
                    yield self.problem(
                        f"'{entry}' is listed twice in depends_on",
                        path,
                        ref=stmt.ref,
                        field="depends_on",
                        severity="warning",
                    )
                    continue
                seen[edge] = j
                if i == self.index[stmt.ref]:
                    self.edges[stmt.ref].append(edge)
            yield from self._exclusive_edges(i, stmt, seen)

    def _exclusive_edges(
        self, index: int, stmt: ActionStatement, seen: Mapping[Edge, int]
    ) -> Iterator[Problem]:
        # `a` and `a.error` can never both be taken, so with join_strategy all the join would
        # always break at run time.
        if stmt.join_strategy != "all":
            return
        for edge, j in seen.items():
            if edge.kind == "error" and Edge(edge.source) in seen:
                yield self.problem(
                    f"depends on both '{edge.source}' and '{edge}', which never both happen; "
                    "with join_strategy: all this action can never run (use join_strategy: any)",
                    ("actions", index, "depends_on", j),
                    ref=stmt.ref,
                    field="depends_on",
                    severity="warning",
                )

    def _roots(
        self, roots: list[str], entry_ref: str | None, single_root: bool
    ) -> Iterator[Problem]:
        if entry_ref is not None and entry_ref not in self.index:
            hint = did_you_mean(entry_ref, list(self.index))
            yield self.problem(
                f"entrypoint.ref '{entry_ref}' names no action{hint}",
                ("entrypoint", "ref"),
                field="entrypoint.ref",
            )
        elif entry_ref is not None and entry_ref not in roots:
            stmt = self.actions[self.index[entry_ref]]
            after = ", ".join(stmt.depends_on)
            yield self.problem(
                f"entrypoint.ref '{entry_ref}' is not a root: it depends on {after}; the "
                "entrypoint must be the action without depends_on",
                ("entrypoint", "ref"),
                field="entrypoint.ref",
            )
        if not roots:
            yield self.problem(
                "the workflow has no root action: every action has depends_on, so none can "
                "start; remove depends_on from the first action",
                ("actions",),
                field="actions",
            )
        elif len(roots) > 1 and single_root:
            if entry_ref in roots:
                for ref in roots:
                    if ref != entry_ref:
                        yield self.problem(
                            f"action '{ref}' has no depends_on, so it is a second root beside "
                            f"the entrypoint '{entry_ref}'; a workflow has exactly one root",
                            ("actions", self.index[ref]),
                            ref=ref,
                            field="depends_on",
                        )
            else:
                yield self.problem(
                    f"the workflow has {len(roots)} root actions ({', '.join(roots)}) but must "
                    "have exactly one: give all but one of them depends_on",
                    ("actions", self.index[roots[1]]),
                    field="actions",
                )

    def _cycles(self) -> Iterator[Problem]:
        successors: dict[str, list[str]] = {ref: [] for ref in self.index}
        for ref, edges in self.edges.items():
            for edge in edges:
                successors[edge.source].append(ref)
        for cycle in find_cycles(list(self.index), successors):
            # Point at the depends_on entry that closes the cycle at its first action.
            head, last = cycle[0], cycle[-2]
            i = self.index[head]
            j = next(
                (k for k, e in enumerate(self.actions[i].depends_on) if _source_of(e) == last), 0
            )
            yield self.problem(
                "dependency cycle: " + " -> ".join(cycle) + " (each action waits for the one "
                "before it), so none of them can ever start",
                ("actions", i, "depends_on", j),
                ref=head,
                field="depends_on",
            )

    def graph(self) -> Graph:
        upstream = {ref: tuple(edges) for ref, edges in self.edges.items()}
        downstream: dict[str, list[tuple[str, EdgeKind]]] = {ref: [] for ref in self.index}
        for ref, edges in upstream.items():
            for edge in edges:
                downstream[edge.source].append((ref, edge.kind))
        roots = tuple(ref for ref, edges in upstream.items() if not edges)
        return Graph(
            _actions={ref: self.actions[i] for ref, i in self.index.items()},
            _upstream=upstream,
            _downstream={ref: tuple(items) for ref, items in downstream.items()},
            _order=tuple(self._order(upstream, downstream)),
            roots=roots,
        )

    def _order(
        self,
        upstream: Mapping[str, tuple[Edge, ...]],
        downstream: Mapping[str, list[tuple[str, EdgeKind]]],
    ) -> Iterator[str]:
        # Kahn's algorithm with a heap keyed by document position: the ready action that comes
        # first in the document goes first, so the order is stable and deterministic.
        waiting = {ref: len({e.source for e in edges}) for ref, edges in upstream.items()}
        ready = [self.index[ref] for ref, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        while ready:
            ref = self.actions[heapq.heappop(ready)].ref
            yield ref
            for child in dict.fromkeys(child for child, _ in downstream[ref]):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, self.index[child])


def _source_of(entry: str) -> str:
    return entry.split(".", 1)[0]
