"""One stream of a region: a scatter item's or a loop pass's walk over the region's body.

Workflow code (deterministic, no I/O). A :class:`StreamWalk` is the run's DAG walk in small: it
starts from the region's opener (already done: its result in this stream is the item, or the pass
number), runs the body's actions as the :class:`~keel.orchestration.scheduler.Scheduler` decides,
each with this stream's own :class:`~keel.orchestration.context.RunContext`, and stops when the
body is done. The region's closer is not run here: the walk only says whether the stream reached it
(``closed``) or skipped it (``skipped``), and the region then reads the stream's value. A region
nested in the body runs as one step: its opener's task runs the whole nested region and hands the
nested closer's outcome back, to be applied when the scheduler decides that closer.

A failure in the stream with no error path ends the stream (``failed``); other streams go on, and
the region's closer decides what a failed stream means.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from temporalio import workflow

from keel.dsl.model import ActionStatement
from keel.orchestration.action_runner import ActionOutcome, ActionRunner
from keel.orchestration.children import ChildLauncher
from keel.orchestration.context import RunContext
from keel.orchestration.failures import Failure
from keel.orchestration.payloads import ActionState, StreamState
from keel.orchestration.scheduler import Decision, Node, Outcome, Scheduler


@dataclass(frozen=True)
class RegionOutcome:
    """How a whole region ended, as the walk around it sees it.

    Attributes:
        opener: The opener's outcome (its result outside the region: the collection, or the
            last pass number).
        closer: The closer's ref (``None`` for a scatter nothing gathers).
        closed: The closer's outcome, applied when the walk around decides the closer.
    """

    opener: ActionOutcome
    closer: str | None = None
    closed: ActionOutcome | None = None


#: Runs a nested region from its opener: ``(opener, context, state, stream)``.
NestedRunner = Callable[[str, RunContext, ActionState, str], Awaitable[RegionOutcome]]
#: Registers one action's state in a stream (for the progress query) and returns it.
StateFactory = Callable[[str, str], tuple[ActionState, StreamState]]


@dataclass(frozen=True)
class StreamEnd:
    """How one stream ended.

    Attributes:
        status: ``closed`` (the walk reached the region's closer), ``skipped`` (the closer's
            dependencies were skipped in this stream), ``open`` (the region has no closer) or
            ``failed``.
        failure: Why it failed.
        failed_ref: The action that failed.
    """

    status: Literal["closed", "skipped", "open", "failed"]
    failure: Failure | None = None
    failed_ref: str | None = None


class StreamWalk:
    """Walks a region's body once, in one stream's context."""

    def __init__(
        self,
        *,
        nodes: list[Node],
        opener: str,
        closer: str | None,
        statements: dict[str, ActionStatement],
        openers: frozenset[str],
        context: RunContext,
        stream: str,
        environment: str,
        nested: NestedRunner,
        new_state: StateFactory,
        children: ChildLauncher | None = None,
    ) -> None:
        self._scheduler = Scheduler(nodes)
        self._opener = opener
        self._closer = closer
        self._statements = statements
        self._openers = openers
        self.context = context
        self._stream = stream
        self._runner = ActionRunner(context, environment, children, stream=stream)
        self._nested = nested
        self._new_state = new_state
        self._running = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: tuple[str, Failure] | None = None
        self._reached: bool | None = None
        # Outcomes of nested closers, computed by their region, applied when they are decided.
        self._closed: dict[str, ActionOutcome] = {}

    async def run(self) -> StreamEnd:
        """Walk the body to its end; return how the stream ended."""
        self._scheduler.roots()  # the opener: done before the walk starts
        self._apply(self._scheduler.finish(self._opener, Outcome.SUCCEEDED))
        await workflow.wait_condition(lambda: self._running == 0 or self._failure is not None)
        if self._failure is not None:
            for task in self._tasks:
                task.cancel()
            ref, failure = self._failure
            return StreamEnd("failed", failure, ref)
        if self._closer is None:
            return StreamEnd("open")
        return StreamEnd("closed" if self._reached else "skipped")

    def _apply(self, decisions: list[Decision]) -> None:
        queue = list(decisions)
        while queue and self._failure is None:
            decision = queue.pop(0)
            ref = decision.ref
            if decision.broken_join is not None:
                self._failure = (ref, Failure("BrokenJoin", decision.broken_join, 0))
                return
            if ref == self._closer:
                self._reached = decision.run
            elif decision.run and ref in self._closed:
                state, entry = self._new_state(ref, self._stream)
                queue.extend(self._finish(ref, self._closed.pop(ref), state, entry))
            elif decision.run:
                self._running += 1
                self._tasks.append(asyncio.create_task(self._run(ref)))
            else:
                state, entry = self._new_state(ref, self._stream)
                entry.status = state.status = "skipped"
                reason = "all of its incoming edges were skipped or not taken"
                queue.extend(self._scheduler.finish(ref, Outcome.SKIPPED, reason))

    async def _run(self, ref: str) -> None:
        state, entry = self._new_state(ref, self._stream)
        try:
            try:
                if ref in self._openers:
                    region = await self._nested(ref, self.context, state, self._stream)
                    if region.closer is not None and region.closed is not None:
                        self._closed[region.closer] = region.closed
                    outcome = region.opener
                else:
                    outcome = await self._runner.run(self._statements[ref], state)
            except workflow.NondeterminismError:
                raise
            except Exception as exc:
                # A bug in Keel's workflow code: fail the action loudly (see KeelRun._run_action).
                workflow.logger.exception("internal error running %s in %s", ref, self._stream)
                message = f"internal error in Keel: {type(exc).__name__}: {exc}"
                outcome = ActionOutcome(
                    "failed", failure=Failure("InternalError", message, max(state.attempts, 1))
                )
            state.ended_at = workflow.now().isoformat()
            self._apply(self._finish(ref, outcome, state, entry))
        finally:
            self._running -= 1

    def _finish(
        self, ref: str, outcome: ActionOutcome, state: ActionState, entry: StreamState
    ) -> list[Decision]:
        entry.attempts = state.attempts
        entry.started_at = state.started_at
        entry.ended_at = state.ended_at or workflow.now().isoformat()
        entry.events = list(state.events)
        if outcome.status == "succeeded":
            entry.status = "succeeded"
            entry.result = outcome.result
            self.context.record_success(ref, outcome.result, outcome.errors)
            return self._scheduler.finish(ref, Outcome.SUCCEEDED)
        if outcome.status == "skipped":
            entry.status = "skipped"
            return self._scheduler.finish(ref, Outcome.SKIPPED, outcome.reason)
        failure = outcome.failure
        assert failure is not None
        entry.status = "failed"
        entry.error = f"{failure.type}: {failure.message}"
        self.context.record_failure(ref, failure.as_error(ref))
        if self._scheduler.error_handled(ref):
            return self._scheduler.finish(ref, Outcome.FAILED)
        self._failure = (ref, failure)
        return []
