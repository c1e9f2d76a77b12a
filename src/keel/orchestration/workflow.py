"""The one Temporal workflow type that runs any Keel workflow: a deterministic DAG walk.

It imports only the pure core (``keel.dsl``, ``keel.expressions``) and the orchestration's own
pure pieces (payloads, context, scheduler) plus the action runner. The walk: start the root; when
an action ends, hand its outcome to the :class:`~keel.orchestration.scheduler.Scheduler`, which
says which actions became decidable; run those (each in its own task, so independent branches run
concurrently), skip the rest, and stop at the first fatal failure. Completion order is
deterministic because Temporal's event loop is.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from keel.dsl.model import ActionStatement, Workflow
from keel.dsl.regions import analyze_regions
from keel.errors import ExpressionError
from keel.expressions.clock import UUIDS
from keel.orchestration import placement
from keel.orchestration.action_runner import ActionOutcome, ActionRunner
from keel.orchestration.children import ChildLauncher
from keel.orchestration.context import RunContext
from keel.orchestration.failures import ActionFailedError, Failure
from keel.orchestration.payloads import (
    LOAD_VARIABLES,
    MAX_FINAL_ITEMS,
    MAX_ITEMS_PER_QUERY,
    WORKFLOW_NAME,
    ActionEvent,
    ActionState,
    FinalState,
    ItemPage,
    ItemsQuery,
    ItemState,
    RelaySpec,
    RunProgress,
    RunRequest,
    StreamRelaySpec,
    StreamReport,
    final_payload,
)
from keel.orchestration.regions import RegionRunner
from keel.orchestration.scheduler import Decision, Outcome, Scheduler

#: The failure type of a run that failed because of an action (or a broken join).
RUN_FAILED = "KeelRunFailed"

#: Parsed definitions by ``RunRequest.definition_key`` (committed versions, which never change).
#: This module is passed through the sandbox, so the cache outlives one run; reusing a parse
#: changes no command a run issues, so replays are unaffected.
_DEFINITIONS: dict[str, Workflow] = {}
_DEFINITIONS_SIZE = 256


@workflow.defn(name=WORKFLOW_NAME)
class KeelRun:
    """Runs one Keel workflow definition to completion."""

    def __init__(self) -> None:
        self._states: dict[str, ActionState] = {}
        self._order: list[str] = []
        self._fatal: str | None = None
        self._running = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._context: RunContext | None = None
        self._completed: dict[str, Any] = {}
        self._items: dict[str, list[ItemState]] = {}
        # Closers' outcomes, computed when their region ran, applied when they are decided.
        self._closed: dict[str, ActionOutcome] = {}

    @workflow.query
    def progress(self) -> RunProgress:
        """Return the state of every action (for live progress and inspection)."""
        return RunProgress([self._states[ref] for ref in self._order])

    @workflow.query
    def context(self) -> dict[str, Any]:
        """Return ``{"ACTIONS": ..., "TRIGGER": ...}`` as the run has it so far."""
        return self._context.result_context() if self._context is not None else {}

    @workflow.query
    def items(self, query: ItemsQuery) -> ItemPage:
        """Return one page of a ``for_each`` action's items (status, input, result, error)."""
        items = self._items.get(query.ref, [])
        counts: dict[str, int] = {}
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
        chosen = [i for i in items if query.status is None or i.status == query.status]
        start = max(query.offset, 0)
        page = chosen[start : start + max(min(query.limit, MAX_ITEMS_PER_QUERY), 0)]
        return ItemPage(total=len(chosen), counts=counts, items=page)

    @workflow.run
    async def run(self, request: RunRequest) -> Any:
        """Walk the workflow's DAG and return its ``returns`` value (or the whole context)."""
        # FN.uuid4 in this run (and the tasks it starts, which copy this context) takes Temporal's
        # replay-stable UUIDs: a random one would differ on replay and could change a branch.
        UUIDS.set(workflow.uuid4)
        # Where this run's activities execute (beside this workflow task, or on the workers):
        # chosen by whoever started it, the same on every replay.
        placement.ACTIONS_QUEUE.set(request.actions_queue)
        if request.relay is not None:
            return await self._relay(request, request.relay)
        if request.streams is not None:
            return await self._relay_streams(request, request.streams)
        definition = _parsed(request)
        info = workflow.info()
        context = RunContext(
            request.trigger,
            env={},
            strict=definition.config.strict_expressions,
            clock=workflow.now,
            variables=request.variables,
            parent=request.parent_context,
        )
        environment = self._environment(definition, request, context)
        if request.load_variables:
            # A scheduled run: its VARS are the environment's variables now, not at commit.
            context.variables = await placement.call(
                LOAD_VARIABLES,
                environment,
                result_type=dict,
                timeout=timedelta(seconds=30),
            )
        context.env.update(
            {
                "workflow": {
                    "id": request.workflow_id,
                    "execution_id": info.workflow_id,
                    "run_id": info.run_id,
                    "start_time": info.start_time.isoformat(),
                },
                "environment": environment,
            }
        )
        self._statements = {a.ref: a for a in definition.actions}
        self._order = [a.ref for a in definition.actions]
        self._states = {ref: ActionState(ref) for ref in self._order}
        self._context = context
        self._children = ChildLauncher(
            context, environment, request.workflow_id, request.parent_context
        )
        self._runner = ActionRunner(context, environment, self._children)
        self._items = self._runner.items
        plan, problems = analyze_regions(definition.actions)
        broken = next((p for p in problems if p.severity == "error"), None)
        if broken is not None:  # a committed workflow never gets here; a raw request might
            raise ApplicationError(f"{broken}", type=RUN_FAILED, non_retryable=True)
        self._regions = RegionRunner(
            plan, self._statements, self._states, environment, request, self._children
        )
        self._scheduler = Scheduler(self._regions.top_nodes())
        self._completed = request.completed

        self._apply(self._scheduler.roots())
        await workflow.wait_condition(lambda: self._running == 0 or self._fatal is not None)
        if self._fatal is not None:
            for task in self._tasks:
                task.cancel()
            await self._hand_off(definition, request)
            raise ApplicationError(
                self._fatal, self._final_state(True), type=RUN_FAILED, non_retryable=True
            )
        if definition.returns is None:
            return final_payload(context.result_context(), self._final_state(False))
        try:
            result = context.evaluate(definition.returns)
        except ExpressionError as exc:
            raise ApplicationError(
                f"returns: {exc}", self._final_state(True), type=RUN_FAILED, non_retryable=True
            ) from exc
        return final_payload(result, self._final_state(True))

    def _final_state(self, with_context: bool) -> FinalState:
        """Return the run's state as it ends, for readers of its close event (no replay).

        Args:
            with_context: Include ``ACTIONS``/``TRIGGER`` (not when the result is them).
        """
        items: dict[str, list[ItemState]] = {}
        omitted: list[str] = []
        for ref, entries in self._items.items():
            if len(entries) > MAX_FINAL_ITEMS:
                omitted.append(ref)  # bounded: the items query still pages through them
            else:
                items[ref] = entries
        context = self._context.result_context() if with_context and self._context else None
        return FinalState([self._states[ref] for ref in self._order], items, omitted, context)

    async def _relay(self, request: RunRequest, relay: RelaySpec) -> list[Any]:
        """Run one slice of a large child fan-out for the parent that started this relay."""
        stmt = ActionStatement.model_validate(relay.statement)
        context = RunContext(None, env={}, clock=workflow.now)
        launcher = ChildLauncher(
            context, request.environment or "default", request.workflow_id, None
        )
        launcher.relaying = True
        launcher.relayed_inheritance = relay.inherited
        try:
            return await launcher.run_calls(stmt, relay.calls, relay.offset)
        except ActionFailedError as failed:
            raise ApplicationError(
                f"child run failed: {failed.failure.message}", type=RUN_FAILED, non_retryable=True
            ) from failed

    async def _relay_streams(
        self, request: RunRequest, spec: StreamRelaySpec
    ) -> list[StreamReport]:
        """Walk one slice of a large scatter's streams for the run that started this relay."""
        definition = Workflow.model_validate(request.definition)
        context = RunContext(
            request.trigger,
            env=dict(spec.env),
            strict=definition.config.strict_expressions,
            clock=workflow.now,
            variables=request.variables,
            parent=request.parent_context,
        )
        context.actions = dict(spec.actions)
        self._context = context
        self._statements = {a.ref: a for a in definition.actions}
        self._order = [a.ref for a in definition.actions]
        self._states = {ref: ActionState(ref) for ref in self._order}
        plan, _ = analyze_regions(definition.actions)
        environment = request.environment or "default"
        children = ChildLauncher(context, environment, request.workflow_id, request.parent_context)
        regions = RegionRunner(plan, self._statements, self._states, environment, request, children)
        return await regions.run_slice(spec, context)

    async def _hand_off(self, definition: Workflow, request: RunRequest) -> None:
        """Start the ``error_handler`` workflow for this failed run (never for a handler run)."""
        if not definition.error_handler or request.is_error_handler:
            return
        info = workflow.info()
        errors = [
            {
                "ref": s.ref,
                "attempts": s.attempts,
                "type": (s.error or "").split(":", 1)[0],
                "message": s.error or "",
            }
            for s in self._states.values()
            if s.status == "failed"
        ]
        if not errors:  # a broken join or a `returns` error: no action failed
            errors = [{"ref": None, "attempts": 0, "type": RUN_FAILED, "message": self._fatal}]
        trigger = {
            "workflow_id": request.workflow_id,
            "execution_id": info.workflow_id,
            "run_url": f"/runs/{info.workflow_id}",
            "errors": errors,
            "trigger": request.trigger,
        }
        try:
            await self._children.start_error_handler(definition.error_handler, trigger)
        except Exception as exc:
            workflow.logger.warning(
                "error handler %s did not start: %s", definition.error_handler, exc
            )

    def _environment(self, definition: Workflow, request: RunRequest, context: RunContext) -> str:
        if request.environment:
            return request.environment
        try:
            return str(context.evaluate(definition.config.environment))
        except ExpressionError as exc:
            raise ApplicationError(
                f"config.environment: {exc}", type=RUN_FAILED, non_retryable=True
            ) from exc

    def _apply(self, decisions: list[Decision]) -> None:
        """Start, skip or fail on each decision; skips cascade through the scheduler."""
        queue = list(decisions)
        while queue and self._fatal is None:
            decision = queue.pop(0)
            if decision.broken_join is not None:
                self._fatal = decision.broken_join
                return
            reused = decision.ref in self._completed and not self._regions.needs_rerun(
                decision.ref, self._completed
            )
            if decision.run and decision.ref in self._closed:
                # A closer: its region ran inside its opener's step, which ends now.
                ref, state = decision.ref, self._states[decision.ref]
                state.started_at = state.started_at or workflow.now().isoformat()
                state.ended_at = workflow.now().isoformat()
                self._finish(ref, self._closed.pop(ref), state)
            elif decision.run and reused:
                # Re-run from a failed action: this one succeeded before; reuse its result.
                state = self._states[decision.ref]
                state.status = "succeeded"
                state.events.append(ActionEvent("info", "result reused from the earlier run"))
                assert self._context is not None
                self._context.record_success(decision.ref, self._completed[decision.ref])
                queue.extend(self._scheduler.finish(decision.ref, Outcome.SUCCEEDED))
            elif decision.run:
                self._running += 1
                self._tasks.append(asyncio.create_task(self._run_action(decision.ref)))
            else:
                self._states[decision.ref].status = "skipped"
                reason = "all of its incoming edges were skipped or not taken"
                queue.extend(self._scheduler.finish(decision.ref, Outcome.SKIPPED, reason))

    async def _run_action(self, ref: str) -> None:
        state = self._states[ref]
        try:
            try:
                if self._regions.is_opener(ref):
                    assert self._context is not None
                    region = await self._regions.run(ref, self._context, state)
                    if region.closer is not None and region.closed is not None:
                        self._closed[region.closer] = region.closed
                    outcome = region.opener
                else:
                    outcome = await self._runner.run(self._statements[ref], state)
            except workflow.NondeterminismError:
                raise  # the code changed under a running workflow: Temporal must see this one
            except Exception as exc:
                # A bug in Keel's own workflow code. Left to escape this task, it would vanish
                # (the run would even succeed, without this action's result); fail the action
                # instead, loudly, so the run fails or takes its error path.
                workflow.logger.exception("internal error while running action %s", ref)
                message = f"internal error in Keel: {type(exc).__name__}: {exc}"
                outcome = ActionOutcome(
                    "failed", failure=Failure("InternalError", message, max(state.attempts, 1))
                )
            state.ended_at = workflow.now().isoformat()
            self._finish(ref, outcome, state)
        finally:
            self._running -= 1

    def _finish(self, ref: str, outcome: ActionOutcome, state: ActionState) -> None:
        context = self._context
        assert context is not None
        if outcome.status == "succeeded":
            state.status = "succeeded"
            context.record_success(ref, outcome.result, outcome.errors)
            self._apply(self._scheduler.finish(ref, Outcome.SUCCEEDED))
        elif outcome.status == "skipped":
            state.status = "skipped"
            self._apply(self._scheduler.finish(ref, Outcome.SKIPPED, outcome.reason))
        else:
            failure = outcome.failure
            assert failure is not None
            state.status = "failed"
            state.error = f"{failure.type}: {failure.message}"
            context.record_failure(ref, failure.as_error(ref))
            if not self._scheduler.error_handled(ref):
                self._fatal = (
                    f"action '{ref}' failed after {failure.attempts} attempt(s): "
                    f"{failure.type}: {failure.message}"
                )
                return
            self._apply(self._scheduler.finish(ref, Outcome.FAILED))


def _parsed(request: RunRequest) -> Workflow:
    """Return the request's definition parsed, reusing the parse of a committed version."""
    key = request.definition_key
    if key is None:
        return Workflow.model_validate(request.definition)
    found = _DEFINITIONS.get(key)
    if found is None:
        found = Workflow.model_validate(request.definition)
        if len(_DEFINITIONS) >= _DEFINITIONS_SIZE:
            # Workflow tasks may run on several threads: clearing is safe where evicting one
            # entry while another thread adds one is not.
            _DEFINITIONS.clear()
        _DEFINITIONS[key] = found
    return found
