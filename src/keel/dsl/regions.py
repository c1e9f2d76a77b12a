"""Regions of a workflow: scatter/gather streams and do-while loops, found from the graph alone.

A *region* opens at a ``core.transform.scatter`` or ``core.loop.start`` action and closes at the
matching ``core.transform.gather`` or ``core.loop.end``. Its members are the actions downstream of
the opener up to the closer; a scatter runs them once per item (one *stream* per item), a loop
runs them again while its condition holds.

Membership follows the edges, as in Tracecat: walking the graph in topological order, every action
inherits a *scope* (the stack of regions it is inside, outermost first) from its dependencies. An
edge out of an opener pushes that opener; an edge out of a closer pops its region; anything else
passes the scope on. So each closer closes the innermost open region, and nested regions come for
free. The rules that make this well defined are checked here, each with file, line and ref:

- every dependency of an action hands it the same scope (otherwise the action would join a
  region's inside with its outside, or two regions cross);
- a closer closes an open region of its own kind (a gather a scatter, a loop end a loop start);
- a region has one closer, and every loop start is closed (a scatter may stay open: its streams
  then run to the end of the workflow and nothing collects them);
- the error path of an opener is not supported (there is no stream to run it in);
- an expression sees only actions of its own region or of regions around it (a region's results
  are visible outside only through its closer).

Pure: used by commit-time validation and by the Temporal workflow, which walks each region.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from keel.dsl.diagnostics import Problem, Severity
from keel.dsl.graph import parse_edge
from keel.dsl.model import ActionStatement
from keel.dsl.source import SourceMap

SCATTER = "core.transform.scatter"
GATHER = "core.transform.gather"
LOOP_START = "core.loop.start"
LOOP_END = "core.loop.end"

RegionKind = Literal["scatter", "loop"]

#: ``core.loop.end``'s ``max_iterations`` when not given (Tracecat's default).
DEFAULT_MAX_ITERATIONS = 100
#: The most passes a loop may run: every pass adds to the run's history.
MAX_ITERATIONS_LIMIT = 1_000
#: The most items one scatter may fan out to.
MAX_SCATTER_ITEMS = 10_000
#: How a gather treats streams that failed.
ERROR_STRATEGIES = ("partition", "include", "drop", "raise")

#: The kind of region each opener opens.
OPENERS: Mapping[str, RegionKind] = {SCATTER: "scatter", LOOP_START: "loop"}
#: The kind of region each closer closes.
CLOSERS: Mapping[str, RegionKind] = {GATHER: "scatter", LOOP_END: "loop"}
#: Region actions, by name: what a reader calls each one in a message.
_NOUN = {SCATTER: "scatter", GATHER: "gather", LOOP_START: "loop start", LOOP_END: "loop end"}
_CLOSER_OF: Mapping[RegionKind, str] = {"scatter": GATHER, "loop": LOOP_END}

Scope = tuple[str, ...]


@dataclass(frozen=True)
class Region:
    """One scatter/gather or do-while region.

    Attributes:
        opener: The ref of the scatter or loop start.
        kind: ``scatter`` or ``loop``.
        closer: The ref of the gather or loop end (``None`` for a scatter nothing gathers).
        body: The refs a pass of this region walks, in document order: the actions directly
            inside it, the openers and closers of regions nested in it (each nested region runs as
            one step of the body), and its own closer last.
        parent: The opener of the region around this one, if any.
    """

    opener: str
    kind: RegionKind
    closer: str | None
    body: tuple[str, ...]
    parent: str | None


@dataclass(frozen=True)
class RegionMap:
    """The regions of a workflow and the scope of every action.

    Attributes:
        regions: Each region, by its opener's ref.
        scopes: Per ref, the openers of the regions it is inside, outermost first (a closer is
            inside the region it closes; an opener is not inside its own region).
        top: The refs the run's own walk sees, in document order: every action outside all
            regions, plus the openers and closers of the outermost regions.
    """

    regions: Mapping[str, Region]
    scopes: Mapping[str, Scope]
    top: tuple[str, ...]

    def closer_region(self, ref: str) -> Region | None:
        """Return the region ``ref`` closes, if it is a closer."""
        scope = self.scopes.get(ref, ())
        if scope:
            region = self.regions.get(scope[-1])
            if region is not None and region.closer == ref:
                return region
        return None

    def outside_scope(self, ref: str) -> Scope:
        """Return the scope ``ref``'s result is visible in (a closer's: its region's outside)."""
        scope = self.scopes.get(ref, ())
        return scope[:-1] if self.closer_region(ref) is not None else scope

    def visible(self, viewer: str | None, target: str) -> bool:
        """Return whether an expression of ``viewer`` (``None``: the document) reads ``target``."""
        inside = self.scopes.get(viewer, ()) if viewer is not None else ()
        seen = self.outside_scope(target)
        return inside[: len(seen)] == seen

    def innermost(self, ref: str) -> str | None:
        """Return the opener of the innermost region ``ref`` is inside, if any."""
        scope = self.scopes.get(ref, ())
        return scope[-1] if scope else None


def analyze_regions(
    actions: Sequence[ActionStatement],
    source: SourceMap | None = None,
    *,
    file: str | None = None,
) -> tuple[RegionMap, list[Problem]]:
    """Find the regions of a graph that passed :func:`keel.dsl.graph.build_graph`'s checks.

    Returns:
        The region map (best effort when there are problems) and every problem found.
    """
    return _Analyzer(actions, source or SourceMap(), file).run()


def region_actions() -> frozenset[str]:
    """Return the names of the four region actions."""
    return frozenset({SCATTER, GATHER, LOOP_START, LOOP_END})


class _Analyzer:
    """One pass over the graph in topological order, propagating scopes."""

    def __init__(
        self, actions: Sequence[ActionStatement], source: SourceMap, file: str | None
    ) -> None:
        self.actions = {a.ref: a for a in actions}
        self.index = {a.ref: i for i, a in enumerate(actions)}
        self.source = source
        self.file = file
        self.upstream: dict[str, list[tuple[str, str]]] = {}
        for stmt in actions:
            edges: list[tuple[str, str]] = []
            for entry in stmt.depends_on:
                try:
                    edge = parse_edge(entry)
                except ValueError:
                    continue  # the graph's own checks report it
                if edge.source in self.actions:
                    edges.append((edge.source, edge.kind))
            self.upstream[stmt.ref] = edges
        self.scopes: dict[str, Scope] = {}
        self.closers: dict[str, str] = {}
        self.claimed: set[str] = set()
        self.problems: list[Problem] = []

    def run(self) -> tuple[RegionMap, list[Problem]]:
        for ref in self._order():
            self.scopes[ref] = self._scope_of(ref)
        self._check_unclosed()
        self._check_statements()
        return self._map(), self.problems

    def _problem(self, message: str, ref: str, field: str, severity: Severity = "error") -> None:
        path: tuple[str | int, ...] = ("actions", self.index[ref], *field.split("."))
        self.problems.append(
            Problem(
                message,
                file=self.file,
                line=self.source.line(path),
                ref=ref,
                field=field,
                severity=severity,
            )
        )

    def _order(self) -> Iterator[str]:
        # Kahn's algorithm keyed by document position, as the graph's own order.
        waiting = {ref: len({s for s, _ in edges}) for ref, edges in self.upstream.items()}
        downstream: dict[str, list[str]] = {ref: [] for ref in self.actions}
        for ref, edges in self.upstream.items():
            for source in dict.fromkeys(s for s, _ in edges):
                downstream[source].append(ref)
        ready = [self.index[ref] for ref, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        refs = list(self.actions)
        while ready:
            ref = refs[heapq.heappop(ready)]
            yield ref
            for child in downstream[ref]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, self.index[child])

    def _handed(self, source: str, kind: str, ref: str) -> Scope:
        """Return the scope an edge out of ``source`` hands to ``ref``."""
        scope = self.scopes.get(source, ())
        stmt = self.actions[source]
        if stmt.action in OPENERS:
            if kind == "error":
                self._problem(
                    f"depends on '{source}.error', but a {_NOUN[stmt.action]} has no error "
                    "path: its failure fails the run (or the region around it)",
                    ref,
                    "depends_on",
                )
            return (*scope, source)
        if self.closers.get(scope[-1] if scope else "") == source:
            return scope[:-1]
        return scope

    def _scope_of(self, ref: str) -> Scope:
        stmt = self.actions[ref]
        edges = self.upstream[ref]
        handed = [(source, self._handed(source, kind, ref)) for source, kind in edges]
        scope: Scope = handed[0][1] if handed else ()
        for source, other in handed[1:]:
            if other != scope:
                first = handed[0][0]
                self._problem(
                    f"depends on '{first}' ({self._where(scope)}) and on '{source}' "
                    f"({self._where(other)}): an action cannot join the inside of a region with "
                    "its outside, and regions cannot cross; depend on the region's "
                    f"{self._exit_hint(scope, other)} instead",
                    ref,
                    "depends_on",
                )
                break
        if stmt.action in CLOSERS:
            self._close(ref, scope)
        return scope

    def _close(self, ref: str, scope: Scope) -> None:
        stmt = self.actions[ref]
        wanted = CLOSERS[stmt.action]
        noun = _NOUN[stmt.action]
        opener_noun = "scatter" if wanted == "scatter" else "loop start"
        if not scope:
            self._problem(
                f"{noun} '{ref}' has no open {opener_noun} upstream: it must come after a "
                f"{opener_noun} (directly or through actions that depend on it)",
                ref,
                "action",
            )
            return
        innermost = scope[-1]
        kind = OPENERS[self.actions[innermost].action]
        if kind != wanted:
            # It was meant for the nearest open region of its kind: do not also call that one
            # unclosed (one mistake, one message).
            meant = next(
                (o for o in reversed(scope) if OPENERS[self.actions[o].action] == wanted), None
            )
            if meant is not None:
                self.claimed.add(meant)
            self._problem(
                f"{noun} '{ref}' would close {_NOUN[self.actions[innermost].action]} "
                f"'{innermost}', the innermost open region; regions cannot cross: close "
                f"'{innermost}' with a {_NOUN[_CLOSER_OF[kind]]} first",
                ref,
                "action",
            )
            return
        if innermost in self.closers:
            self._problem(
                f"{opener_noun} '{innermost}' is already closed by '{self.closers[innermost]}'; "
                f"a region has one {noun}",
                ref,
                "action",
            )
            return
        self.closers[innermost] = ref

    def _check_unclosed(self) -> None:
        for ref, stmt in self.actions.items():
            if stmt.action not in OPENERS or ref in self.closers or ref in self.claimed:
                continue
            if OPENERS[stmt.action] == "loop":
                self._problem(
                    f"loop start '{ref}' is never closed: add a core.loop.end that depends on "
                    "the last action of the loop",
                    ref,
                    "action",
                )
            else:
                self._problem(
                    f"scatter '{ref}' is never gathered: the actions after it run once per item "
                    "to the end of the workflow and nothing collects their results",
                    ref,
                    "action",
                    "warning",
                )

    def _check_statements(self) -> None:
        for ref, stmt in self.actions.items():
            if stmt.action in _NOUN and stmt.for_each is not None:
                self._problem(
                    f"a {_NOUN[stmt.action]} cannot have for_each: it already runs its "
                    "region per item or per pass",
                    ref,
                    "for_each",
                )
            if stmt.action in CLOSERS and stmt.run_if is not None:
                self._problem(
                    f"a {_NOUN[stmt.action]} cannot have run_if; put run_if on the actions "
                    "inside the region",
                    ref,
                    "run_if",
                )
            if stmt.action in (GATHER, LOOP_END):
                self._check_literals(ref, stmt)

    def _check_literals(self, ref: str, stmt: ActionStatement) -> None:
        """Check the closer arguments that are written as literals (expressions run later)."""
        strategy = stmt.args.get("error_strategy")
        if isinstance(strategy, str) and "${{" not in strategy and strategy not in ERROR_STRATEGIES:
            self._problem(
                f"error_strategy '{strategy}' is not one of {', '.join(ERROR_STRATEGIES)}",
                ref,
                "args.error_strategy",
            )
        limit = stmt.args.get("max_iterations")
        if limit is not None and not isinstance(limit, str):
            if isinstance(limit, bool) or not isinstance(limit, int):
                self._problem(
                    f"max_iterations must be a whole number, got {limit!r}",
                    ref,
                    "args.max_iterations",
                )
            elif not 1 <= limit <= MAX_ITERATIONS_LIMIT:
                self._problem(
                    f"max_iterations must be between 1 and {MAX_ITERATIONS_LIMIT}, got {limit}",
                    ref,
                    "args.max_iterations",
                )

    def _where(self, scope: Scope) -> str:
        if not scope:
            return "outside every region"
        opener = scope[-1]
        return f"inside {_NOUN[self.actions[opener].action]} '{opener}'"

    def _exit_hint(self, one: Scope, other: Scope) -> str:
        inner = one if len(one) > len(other) else other
        if not inner:
            return "closer"
        closer = self.closers.get(inner[-1])
        noun = "gather" if OPENERS[self.actions[inner[-1]].action] == "scatter" else "loop end"
        return f"{noun} '{closer}'" if closer else noun

    def _map(self) -> RegionMap:
        regions: dict[str, Region] = {}
        bodies: dict[str | None, list[str]] = {}
        for ref in self.actions:  # document order
            scope = self.scopes.get(ref, ())
            if self.closers.get(scope[-1] if scope else "") == ref:
                scope = scope[:-1]  # a closer is a step of the walk around its region
            bodies.setdefault(scope[-1] if scope else None, []).append(ref)
        for ref, stmt in self.actions.items():
            if stmt.action not in OPENERS:
                continue
            scope = self.scopes.get(ref, ())
            closer = self.closers.get(ref)
            body = [r for r in bodies.get(ref, []) if r != closer]
            if closer is not None:
                body.append(closer)
            regions[ref] = Region(
                opener=ref,
                kind=OPENERS[stmt.action],
                closer=closer,
                body=tuple(body),
                parent=scope[-1] if scope else None,
            )
        return RegionMap(regions, dict(self.scopes), tuple(bodies.get(None, [])))
