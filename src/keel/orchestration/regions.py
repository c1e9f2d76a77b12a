"""Scatter/gather and do-while regions, run inside the Temporal workflow.

Workflow code (deterministic, no I/O). The run's own walk sees a region as two steps: its opener
and its closer (:meth:`RegionRunner.top_nodes` gives the closer a single edge from the opener).
When the walk runs the opener, :meth:`RegionRunner.run` runs the whole region and returns the
opener's outcome together with the closer's, which the walk applies when it decides the closer:

- **scatter**: the collection is evaluated (in the workflow, or in an activity when it reads
  secrets), then one :class:`~keel.orchestration.streams.StreamWalk` per item runs the body, at
  most :data:`MAX_PARALLEL_STREAMS` at once, ``interval`` seconds apart when asked (a durable
  timer). The gather evaluates ``items`` in each stream that reached it and collects the values in
  item order, treating failed streams by its ``error_strategy``.
- **loop**: the body runs as one stream per pass, each pass starting from the previous pass's
  results (so a pass can read what the last one found, as when following a cursor), until the
  loop end's ``condition`` is false or ``max_iterations`` passes have run.

Every action inside a region records one :class:`~keel.orchestration.payloads.StreamState` per
item or pass in its progress state, which is what ``GET /runs/{id}`` shows. History stays small:
inline actions add no event and each activity call one marker, so a stream costs what its
activity calls cost; a scatter of more than
:data:`~keel.orchestration.stream_relays.STREAMS_PER_RUN` items is walked by relay runs
(:mod:`keel.orchestration.stream_relays`), so its own history grows by a few events per slice.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio import workflow

from keel.dsl.graph import parse_edge
from keel.dsl.model import ActionStatement
from keel.dsl.regions import (
    DEFAULT_MAX_ITERATIONS,
    ERROR_STRATEGIES,
    MAX_ITERATIONS_LIMIT,
    MAX_SCATTER_ITEMS,
    Region,
    RegionMap,
)
from keel.errors import ExpressionError
from keel.orchestration.action_runner import ActionOutcome, ActionRunner
from keel.orchestration.children import ChildLauncher
from keel.orchestration.context import RunContext
from keel.orchestration.failures import Failure
from keel.orchestration.payloads import (
    ActionEvent,
    ActionState,
    RunRequest,
    StreamRelaySpec,
    StreamReport,
    StreamState,
)
from keel.orchestration.scheduler import Node
from keel.orchestration.stream_relays import MAX_STREAM_STATES, STREAMS_PER_RUN, StreamRelays
from keel.orchestration.streams import RegionOutcome, StreamEnd, StreamWalk

#: Streams of one scatter that run at once.
MAX_PARALLEL_STREAMS = 64


class RegionRunner:
    """Runs the regions of one run."""

    def __init__(
        self,
        plan: RegionMap,
        statements: Mapping[str, ActionStatement],
        states: Mapping[str, ActionState],
        environment: str,
        request: RunRequest,
        children: ChildLauncher | None = None,
    ) -> None:
        self.plan = plan
        self._children = children
        self._statements = dict(statements)
        self._states = states
        self._environment = environment
        self._openers = frozenset(plan.regions)
        self._closers = {r.closer: r.opener for r in plan.regions.values() if r.closer}
        self._bodies = {opener: self._body_nodes(r) for opener, r in plan.regions.items()}
        self._dropped: dict[str, int] = {}
        self._relays = StreamRelays(request, states, environment)

    # -- the walk around -----------------------------------------------------------------------

    def top_nodes(self) -> list[Node]:
        """Return the scheduler nodes of the run's own walk (regions collapsed to two steps)."""
        return [self._node(ref) for ref in self.plan.top]

    def is_opener(self, ref: str) -> bool:
        """Return whether ``ref`` opens a region."""
        return ref in self._openers

    def needs_rerun(self, ref: str, completed: Mapping[str, Any]) -> bool:
        """Return whether an opener must run again although it succeeded in an earlier run.

        A re-run reuses earlier results; an opener whose closer did not succeed then must run
        its region again (the closer's outcome comes only from running the region).
        """
        region = self.plan.regions.get(ref)
        return region is not None and region.closer is not None and region.closer not in completed

    def _node(self, ref: str) -> Node:
        stmt = self._statements[ref]
        opener = self._closers.get(ref)
        if opener is not None:
            # The region runs inside its opener's step; the closer follows that step.
            return Node(ref, ((opener, "success"),), stmt.join_strategy)
        edges = []
        for entry in stmt.depends_on:
            edge = parse_edge(entry)
            edges.append((edge.source, edge.kind))
        return Node(ref, tuple(edges), stmt.join_strategy)

    def _body_nodes(self, region: Region) -> list[Node]:
        nodes = [Node(region.opener, ())]
        for ref in region.body:
            if ref == region.closer:
                stmt = self._statements[ref]
                edges = tuple((parse_edge(e).source, parse_edge(e).kind) for e in stmt.depends_on)
                nodes.append(Node(ref, edges, stmt.join_strategy))
            else:
                nodes.append(self._node(ref))
        return nodes

    # -- one region ----------------------------------------------------------------------------

    async def run(
        self, opener: str, context: RunContext, state: ActionState, stream: str = ""
    ) -> RegionOutcome:
        """Run the region opened by ``opener`` in ``context`` (the stream around it, if any).

        Args:
            opener: The scatter or loop start.
            context: The context the opener runs in.
            state: The opener's progress state (its own, or its entry in the stream around).
            stream: The stream around this region (empty at the top of the run).
        """
        region = self.plan.regions[opener]
        runner = ActionRunner(context, self._environment, None, stream=stream)
        started = await runner.run(self._statements[opener], state)
        if started.status != "succeeded":
            if started.status == "skipped" and not stream:
                self._skip_inside(region)
            return RegionOutcome(started, region.closer)
        if region.kind == "scatter":
            outcome = await self._scatter(region, context, started.result, stream)
        else:
            outcome = await self._loop(region, context, stream)
        self._summarize(region)
        return outcome

    async def run_slice(self, spec: StreamRelaySpec, context: RunContext) -> list[StreamReport]:
        """In a relay run: walk the slice's streams; report each with its entries (no results)."""
        region = self.plan.regions[spec.opener]
        reports = await self.walk_streams(region, context, spec.items, spec.offset, spec.stream)
        # Each entry's stream label starts with its item's: `<scatter>[<index>]` (then `/...`).
        prefix = _label(spec.stream, f"{spec.opener}[")
        by_index = {report.index: report for report in reports}
        for ref, top in self._states.items():
            for entry in top.streams:
                if not entry.stream.startswith(prefix):
                    continue
                index = int(entry.stream[len(prefix) :].split("]", 1)[0])
                report = by_index[index]
                report.states.setdefault(ref, []).append(dataclasses.replace(entry, result=None))
        self._summarize(region)
        return reports

    async def _scatter(
        self, region: Region, context: RunContext, collection: Any, stream: str
    ) -> RegionOutcome:
        opener = region.opener
        if not isinstance(collection, list):
            return _failed_opener(
                region,
                "TypeError",
                f"scatter '{opener}': collection must be a list, got {type(collection).__name__}",
            )
        if len(collection) > MAX_SCATTER_ITEMS:
            return _failed_opener(
                region,
                "ValueError",
                f"scatter '{opener}': {len(collection)} items is more than the "
                f"{MAX_SCATTER_ITEMS} one scatter may fan out to; split the collection",
            )
        try:
            interval = _interval(context.evaluate(self._statements[opener].args.get("interval")))
        except (ExpressionError, ValueError) as exc:
            return _failed_opener(region, "ValueError", f"scatter '{opener}': interval: {exc}")
        if len(collection) > STREAMS_PER_RUN and not interval:
            reports = await self._relays.run(region, context, collection, stream)
        else:
            reports = await self.walk_streams(region, context, collection, 0, stream, interval)
        opened = ActionOutcome("succeeded", result=collection)
        if region.closer is None:
            return RegionOutcome(opened)
        return RegionOutcome(opened, region.closer, self._gather(region, context, reports))

    async def walk_streams(
        self,
        region: Region,
        context: RunContext,
        items: list[Any],
        offset: int,
        stream: str,
        interval: float = 0.0,
    ) -> list[StreamReport]:
        """Walk one stream per item (item ``i`` is number ``offset + i``); report each, in order."""
        opener = region.opener
        gate = asyncio.Semaphore(MAX_PARALLEL_STREAMS)

        async def one(index: int, item: Any) -> StreamReport:
            async with gate:
                inner = context.fork()
                inner.record_success(opener, item)
                end = await self._walk(region, inner, _label(stream, f"{opener}[{index}]"))
                return self._report(region, index, end, inner)

        tasks = []
        for index, item in enumerate(items, start=offset):
            if index > offset and interval:
                await workflow.sleep(timedelta(seconds=interval))
            tasks.append(asyncio.ensure_future(one(index, item)))
        return list(await asyncio.gather(*tasks))

    def _report(
        self, region: Region, index: int, end: StreamEnd, inner: RunContext
    ) -> StreamReport:
        if end.status == "failed":
            assert end.failure is not None
            error = {
                "index": index,
                "ref": end.failed_ref,
                "type": end.failure.type,
                "message": end.failure.message,
            }
            return StreamReport(index, "failed", error=error)
        if end.status != "closed" or region.closer is None:
            return StreamReport(index, end.status)
        items = self._statements[region.closer].args.get("items")
        try:
            return StreamReport(index, "closed", value=inner.evaluate(items))
        except ExpressionError as exc:
            error = {
                "index": index,
                "ref": region.closer,
                "type": "ExpressionError",
                "message": f"items: {exc}",
            }
            return StreamReport(index, "failed", error=error)

    def _gather(
        self, region: Region, context: RunContext, reports: list[StreamReport]
    ) -> ActionOutcome:
        assert region.closer is not None
        stmt = self._statements[region.closer]
        options = {k: v for k, v in stmt.args.items() if k != "items"}
        try:
            evaluated = context.evaluate(options)
        except ExpressionError as exc:
            return _failure("ExpressionError", f"args: {exc}")
        strategy = evaluated.get("error_strategy", "partition")
        if strategy not in ERROR_STRATEGIES:
            return _failure(
                "ValueError",
                f"error_strategy {strategy!r} is not one of {', '.join(ERROR_STRATEGIES)}",
            )
        drop_nulls = evaluated.get("drop_nulls", False)
        if not isinstance(drop_nulls, bool):
            return _failure("TypeError", f"drop_nulls must be true or false, got {drop_nulls!r}")
        values: list[Any] = []
        errors: list[dict[str, Any]] = []
        for report in reports:
            if report.status == "failed":
                assert report.error is not None
                errors.append(report.error)
                if strategy == "include":
                    values.append(report.error)
            elif report.status == "closed":
                values.append(report.value)
            # a skipped stream contributes nothing
        if errors and strategy == "raise":
            first = errors[0]
            more = f" (and {len(errors) - 1} more failed item(s))" if len(errors) > 1 else ""
            return _failure(
                "ScatterItemFailed",
                f"item {first['index']}: action '{first['ref']}' failed: {first['type']}: "
                f"{first['message']}{more}",
            )
        if drop_nulls:
            values = [v for v in values if v is not None]
        # `.error` only when a stream failed: a re-run from a failure then runs such a region
        # again (its failed items get another chance) and reuses one where every item worked.
        partitioned = errors if strategy == "partition" and errors else None
        return ActionOutcome("succeeded", result=values, errors=partitioned)

    async def _loop(self, region: Region, context: RunContext, stream: str) -> RegionOutcome:
        opener, closer = region.opener, region.closer
        assert closer is not None  # commit-time checks refuse an unclosed loop
        stmt = self._statements[closer]
        try:
            limit = _max_iterations(
                context.evaluate(stmt.args.get("max_iterations", DEFAULT_MAX_ITERATIONS))
            )
        except (ExpressionError, ValueError) as exc:
            return RegionOutcome(
                ActionOutcome("succeeded", result={"iteration": 0}),
                closer,
                _failure("ValueError", f"max_iterations: {exc}"),
            )
        inner = context.fork()
        iteration = 0
        while True:
            inner.record_success(opener, {"iteration": iteration})
            label = _label(stream, f"{opener}#{iteration}")
            end = await self._walk(region, inner, label)
            opened = ActionOutcome("succeeded", result={"iteration": iteration})
            if end.status == "failed":
                assert end.failure is not None
                failure = Failure(
                    end.failure.type,
                    f"pass {iteration}: action '{end.failed_ref}' failed: {end.failure.message}",
                    max(end.failure.attempts, 1),
                )
                return RegionOutcome(opened, closer, ActionOutcome("failed", failure=failure))
            _, entry = self.stream_state(closer, label)
            try:
                again = bool(inner.evaluate(stmt.args.get("condition")))
            except ExpressionError as exc:
                entry.status, entry.error = "failed", f"ExpressionError: condition: {exc}"
                return RegionOutcome(opened, closer, _failure("ExpressionError", entry.error))
            entry.status, entry.result = "succeeded", {"continue": again}
            entry.ended_at = workflow.now().isoformat()
            passes = iteration + 1
            if not again:
                done = {"continue": False, "iterations": passes}
                return RegionOutcome(opened, closer, ActionOutcome("succeeded", result=done))
            if passes >= limit:
                message = (
                    f"loop '{opener}' reached max_iterations ({limit}) and its condition was "
                    f"still true after pass {iteration}: {stmt.args.get('condition')}"
                )
                failure = Failure("MaxIterationsExceeded", message, passes)
                return RegionOutcome(opened, closer, ActionOutcome("failed", failure=failure))
            iteration += 1

    async def _walk(self, region: Region, context: RunContext, stream: str) -> StreamEnd:
        walk = StreamWalk(
            nodes=self._bodies[region.opener],
            opener=region.opener,
            closer=region.closer,
            statements=self._statements,
            openers=self._openers,
            context=context,
            stream=stream,
            environment=self._environment,
            nested=self.run,
            new_state=self.stream_state,
            children=None if self._children is None else self._children.in_stream(context, stream),
        )
        return await walk.run()

    # -- visibility ----------------------------------------------------------------------------

    def stream_state(self, ref: str, stream: str) -> tuple[ActionState, StreamState]:
        """Return a fresh state for ``ref`` in ``stream``, and its entry in the progress query."""
        top = self._states[ref]
        now = workflow.now().isoformat()
        if top.status == "pending":
            top.status, top.started_at = "running", now
        entry = StreamState(stream, started_at=now)
        if len(top.streams) < MAX_STREAM_STATES:
            top.streams.append(entry)
        else:
            self._dropped[ref] = self._dropped.get(ref, 0) + 1
        return ActionState(ref, status="running", started_at=now), entry

    def _skip_inside(self, region: Region) -> None:
        """Mark every action inside a region whose opener was skipped as skipped too."""
        for ref, scope in self.plan.scopes.items():
            if region.opener in scope and ref != region.closer:
                self._states[ref].status = "skipped"

    def _summarize(self, region: Region) -> None:
        """Give each action of a finished region one status for the whole of it."""
        if region.parent is not None:
            return  # the outermost region summarizes everything inside it, once
        now = workflow.now().isoformat()
        for ref, scope in self.plan.scopes.items():
            if region.opener not in scope or ref == region.closer:
                continue
            top = self._states[ref]
            statuses = {s.status for s in top.streams}
            if "failed" in statuses:
                top.status = "failed"
                top.error = next(s.error for s in top.streams if s.status == "failed")
            elif "succeeded" in statuses:
                top.status = "succeeded"
            else:
                top.status = "skipped"
            top.attempts = max((s.attempts for s in top.streams), default=0)
            top.ended_at = now
            dropped = self._dropped.pop(ref, 0)
            if dropped:
                top.events.append(
                    ActionEvent("info", f"{dropped} more item(s)/pass(es) ran; not listed")
                )


def _label(stream: str, part: str) -> str:
    return f"{stream}/{part}" if stream else part


def _failure(kind: str, message: str) -> ActionOutcome:
    return ActionOutcome("failed", failure=Failure(kind, message, 1))


def _failed_opener(region: Region, kind: str, message: str) -> RegionOutcome:
    return RegionOutcome(_failure(kind, message), region.closer)


def _interval(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"expected a number of seconds (0 or more), got {value!r}")
    return float(value)


def _max_iterations(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {value!r}")
    if not 1 <= value <= MAX_ITERATIONS_LIMIT:
        raise ValueError(f"must be between 1 and {MAX_ITERATIONS_LIMIT}, got {value}")
    return value
