"""Runs one action statement inside the Temporal workflow: timers, run_if, for_each, retries.

Workflow code: deterministic, no I/O. Side effects go through the ``keel.run_action`` activity,
as a *local* activity for calls that fit the local-activity budget (about 1.3 ms per step on the
dev server instead of about 50 ms for a regular activity: see ``perf-notes.md``), and as a regular
activity for long ones. ``core.transform.reshape`` is evaluated in the workflow itself: its work
is the expression evaluation, which is deterministic.

Retries are driven here, not by Temporal's retry policy, so that each attempt is its own activity
call in the history (visible, with its own result), ``retry_until`` can re-run a *successful*
attempt, and the attempt count reaches the error message.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from keel import expressions
from keel.dsl.instants import EXAMPLES, iso_instant
from keel.dsl.model import ActionStatement, Workflow
from keel.dsl.regions import GATHER, LOOP_END
from keel.errors import ExpressionError
from keel.orchestration import placement
from keel.orchestration.children import CHILD_ACTION, TEMPORAL_MAX_ID, ChildLauncher
from keel.orchestration.context import RunContext, jsonable, reads_secrets, split_secret_args
from keel.orchestration.failures import ActionFailedError, Failure
from keel.orchestration.payloads import (
    RESOLVE_INSTANT,
    RUN_ACTION,
    ActionEvent,
    ActionResult,
    ActionState,
    ActionTask,
    InstantRequest,
    InstantResult,
    ItemState,
    task_json,
)

#: Actions evaluated inside the workflow, without an activity: the argument that is the result
#: (``None``: no result). A region's opener is one: its region then runs in the workflow.
INLINE_ACTIONS: Mapping[str, str | None] = {
    "core.transform.reshape": "value",
    "core.transform.scatter": "collection",
    "core.loop.start": None,
}
#: Actions a run computes inside its workflow task with no activity: the inline ones above
#: and the closers of regions, which the region runner computes.
IN_WORKFLOW = frozenset(INLINE_ACTIONS) | {GATHER, LOOP_END}


def stays_in_workflow(definition: Workflow) -> bool:
    """Return whether a run of ``definition`` needs no activity at all, by its text.

    Such a run (pure transforms, regions, timers) is finished by the process that runs its
    workflow tasks; an API process starts it eagerly and finishes it in one step. Any other
    action, a ``wait_until`` phrase, an argument the runner would defer to an activity because
    it reads ``SECRETS`` (:func:`~keel.orchestration.context.reads_secrets`) or an error
    handler makes the answer False (the run goes to the workers whole). Conservative by design:
    a wrong False costs a round of matching, never correctness.
    """
    if definition.error_handler:
        return False
    return all(
        stmt.action in IN_WORKFLOW
        and stmt.wait_until is None
        and not any(reads_secrets(text) for _, text in expressions.iter_strings(stmt.args))
        for stmt in definition.actions
    )


#: Calls allowed this long per attempt run as local activities; longer ones as regular ones.
LOCAL_ACTIVITY_MAX_SECONDS = 300.0
#: How many for_each items of one action run at once.
FOR_EACH_CONCURRENCY = 64
#: Slack given to Temporal's own timeout beyond the executor's, so the executor reports first.
TIMEOUT_SLACK_SECONDS = 5.0


@dataclass(frozen=True)
class ActionOutcome:
    """How one action statement ended.

    Attributes:
        status: ``succeeded``, ``failed`` or ``skipped``.
        result: The result when it succeeded.
        failure: The failure when it failed.
        reason: Why it was skipped.
        errors: Failures reported beside a result (a gather's ``partition`` strategy).
    """

    status: str
    result: Any = None
    failure: Failure | None = None
    reason: str = ""
    errors: list[Any] | None = None


class ActionRunner:
    """Runs action statements of one run against its :class:`RunContext`."""

    def __init__(
        self,
        context: RunContext,
        environment: str,
        children: ChildLauncher | None = None,
        stream: str = "",
    ) -> None:
        self.context = context
        # Evaluations of one workflow task share one work budget (see RunContext.work_budget).
        context.task_marker = _task_marker
        self.environment = environment
        self.children = children
        #: Each ``for_each`` action's items by ref, for the ``items`` query. Query state only:
        #: nothing here reaches the history, so recording it cannot change a replay.
        self.items: dict[str, list[ItemState]] = {}
        # Inside a region, the stream (item or pass) this runner serves: it prefixes activity
        # ids, which must not repeat between streams that run at once.
        self.stream = stream
        workflow = context.env.get("workflow")
        self.workflow_id = str(workflow.get("id") or "") if isinstance(workflow, dict) else ""

    async def run(self, stmt: ActionStatement, state: ActionState) -> ActionOutcome:
        """Run ``stmt`` to its end, updating ``state`` for the progress query."""
        warn = _warner(state, stmt.ref)
        try:
            await self._wait(stmt, warn)
            if stmt.run_if is not None:
                condition = self._evaluate(stmt.run_if, "run_if", None, warn)
                if not condition:
                    return ActionOutcome("skipped", reason=f"run_if was false: {stmt.run_if}")
            state.status = "running"
            state.started_at = workflow.now().isoformat()
            if stmt.action == CHILD_ACTION and self.children is not None:
                state.attempts = 1
                result = await self.children.run(stmt, warn)
            elif stmt.for_each is None:
                result = await self._call(stmt, None, state, warn, None)
            else:
                result = await self._for_each(stmt, state, warn)
        except ActionFailedError as failed:
            return ActionOutcome("failed", failure=failed.failure)
        return ActionOutcome("succeeded", result=result)

    # -- timers --------------------------------------------------------------------------------

    async def _wait(self, stmt: ActionStatement, warn: Callable[[str], None]) -> None:
        delay = stmt.start_delay
        if stmt.wait_until is not None:
            value = self._evaluate(stmt.wait_until, "wait_until", None, warn)
            target = iso_instant(value)
            if target is None:
                target = await _resolve_phrase(value)
            delay = (target - workflow.now()).total_seconds()
        if delay > 0:
            # A durable timer: a worker restart resumes it rather than starting it over.
            await workflow.sleep(timedelta(seconds=delay))

    # -- for_each ------------------------------------------------------------------------------

    async def _for_each(
        self, stmt: ActionStatement, state: ActionState, warn: Callable[[str], None]
    ) -> list[Any]:
        assert stmt.for_each is not None
        try:
            bindings = expressions.iterate(
                stmt.for_each,
                self.context.as_dict(),
                strict=self.context.strict,
                on_miss=warn,
                clock=self.context.clock,
                budget=self.context.work_budget(),
            )
        except ExpressionError as exc:
            raise ActionFailedError(Failure("ExpressionError", f"for_each: {exc}", 0)) from exc
        gate = asyncio.Semaphore(FOR_EACH_CONCURRENCY)
        items = [ItemState(index, input=binding) for index, binding in enumerate(bindings)]
        self.items[stmt.ref] = items

        async def one(index: int, loop_vars: dict[str, Any]) -> Any:
            item = items[index]
            try:
                async with gate:
                    item.status = "running"
                    item.started_at = workflow.now().isoformat()
                    result = await self._call(stmt, loop_vars, state, warn, index, item)
            except ActionFailedError as failed:
                f = failed.failure
                # An item whose attempt was cancelled because another item failed the action
                # comes back as a CancelledError failure: it did not fail on its own.
                cancelled = f.type == "CancelledError"
                item.status = "cancelled" if cancelled else "failed"
                item.error = None if cancelled else f"{f.type}: {f.message}"
                item.ended_at = workflow.now().isoformat()
                raise ActionFailedError(
                    Failure(f.type, f"for_each item {index}: {f.message}", f.attempts)
                ) from failed
            except asyncio.CancelledError:
                item.status = "cancelled"
                raise
            item.status, item.result = "succeeded", result
            item.ended_at = workflow.now().isoformat()
            return result

        tasks = [asyncio.ensure_future(one(i, b)) for i, b in enumerate(bindings)]
        try:
            return list(await asyncio.gather(*tasks))
        except ActionFailedError:
            for task in tasks:
                task.cancel()
            for item in items:
                if item.status in ("queued", "running"):
                    item.status = "cancelled"  # never started, or stopped with the action
            raise

    # -- one call with retries -----------------------------------------------------------------

    async def _call(
        self,
        stmt: ActionStatement,
        loop_vars: Mapping[str, Any] | None,
        state: ActionState,
        warn: Callable[[str], None],
        item: int | None,
        item_state: ItemState | None = None,
    ) -> Any:
        policy = stmt.retry_policy
        try:
            args, deferred, needed = split_secret_args(stmt.args, self.context, loop_vars, warn)
        except ExpressionError as exc:
            raise ActionFailedError(Failure("ExpressionError", f"args: {exc}", 0)) from exc
        environment = self._environment(stmt, loop_vars, warn)
        attempt = 0
        while True:
            attempt += 1
            state.attempts = max(state.attempts, attempt)
            if item_state is not None:
                item_state.attempts = attempt
            # Inline only when nothing waits for secrets: those resolve in an activity.
            if stmt.action in INLINE_ACTIONS and not deferred:
                # Activity results are normalised in the activity; inline ones here, once.
                key = INLINE_ACTIONS[stmt.action]
                value = args.get(key) if key is not None else None
                result = ActionResult(ok=True, result=jsonable(value))
            else:
                task = ActionTask(
                    ref=stmt.ref,
                    action=stmt.action,
                    args=args,
                    deferred=deferred,
                    context=needed,
                    environment=environment,
                    timeout=policy.timeout,
                    attempt=attempt,
                    workflow_id=self.workflow_id,
                )
                # The activity id names the action, item and attempt, so the history and the
                # Temporal UI say which action each activity (or local-activity marker) was.
                where = stmt.ref if item is None else f"{stmt.ref}[{item}]"
                if self.stream:
                    where = f"{self.stream}/{where}"
                result = await _execute(task, activity_id(where, attempt))
            last = policy.max_attempts != 0 and attempt >= policy.max_attempts
            if result.ok:
                if policy.retry_until is None or self._done(stmt, result.result, loop_vars, warn):
                    return result.result
                if last:
                    raise ActionFailedError(
                        Failure(
                            "RetryUntilNotMet",
                            f"retry_until was still false after {attempt} attempt(s): "
                            f"{policy.retry_until}",
                            attempt,
                        )
                    )
            elif last or not result.retryable:
                raise ActionFailedError(
                    Failure(result.error_type or "Error", result.error_message or "", attempt)
                )
            delay = policy.backoff.delay(attempt)
            if delay > 0:
                await workflow.sleep(timedelta(seconds=delay))

    def _environment(
        self,
        stmt: ActionStatement,
        loop_vars: Mapping[str, Any] | None,
        warn: Callable[[str], None],
    ) -> str:
        """Return the secrets environment of this call: the action's own, or the run's."""
        if stmt.environment is None:
            return self.environment
        value = self._evaluate(stmt.environment, "environment", loop_vars, warn)
        if not isinstance(value, str) or not value:
            raise ActionFailedError(
                Failure(
                    "ValueError",
                    f"environment: expected the name of a secrets environment, got {value!r}",
                    0,
                )
            )
        return value

    def _done(
        self,
        stmt: ActionStatement,
        result: Any,
        loop_vars: Mapping[str, Any] | None,
        warn: Callable[[str], None],
    ) -> bool:
        assert stmt.retry_policy.retry_until is not None
        context = self.context.as_dict(loop_vars)
        context["ACTIONS"] = {**context["ACTIONS"], stmt.ref: {"result": result}}
        try:
            return bool(
                expressions.evaluate(
                    stmt.retry_policy.retry_until,
                    context,
                    strict=self.context.strict,
                    on_miss=warn,
                    clock=self.context.clock,
                    budget=self.context.work_budget(),
                )
            )
        except ExpressionError as exc:
            raise ActionFailedError(Failure("ExpressionError", f"retry_until: {exc}", 1)) from exc

    def _evaluate(
        self,
        text: str,
        field: str,
        loop_vars: Mapping[str, Any] | None,
        warn: Callable[[str], None],
    ) -> Any:
        try:
            return self.context.evaluate(text, loop_vars, warn)
        except ExpressionError as exc:
            raise ActionFailedError(Failure("ExpressionError", f"{field}: {exc}", 0)) from exc


#: The most of an over-long activity id's end that :func:`activity_id` keeps (the innermost
#: items and the action's ref, which say the most).
ACTIVITY_ID_TAIL = 400


def activity_id(where: str, attempt: int) -> str:
    """Return the activity id of attempt ``attempt`` of the action at ``where``.

    ``where`` names the action in its stream of items (``scan[3]/retry#2/call[0]``), so it grows
    with every region it is nested in. Temporal refuses to schedule an activity whose id passes
    :data:`~keel.orchestration.children.TEMPORAL_MAX_ID` characters, and a refused command fails
    the workflow task over and over: the run would hang. Such an id is shortened instead, the
    same way on every replay: a digest of the whole ``where`` (unique within the run) and its
    last :data:`ACTIVITY_ID_TAIL` characters. Ids within the limit are unchanged.
    """
    full = f"{where}#{attempt}"
    if len(full) <= TEMPORAL_MAX_ID:
        return full
    digest = hashlib.sha256(where.encode()).hexdigest()[:24]
    return f"{digest}~{where[-ACTIVITY_ID_TAIL:]}#{attempt}"


async def _execute(task: ActionTask, identity: str) -> ActionResult:
    """Run one attempt as a local or regular activity, turning Temporal errors into results."""
    timeout = timedelta(seconds=task.timeout + TIMEOUT_SLACK_SECONDS)
    once = RetryPolicy(maximum_attempts=1)
    result: ActionResult
    try:
        result = await placement.call(
            RUN_ACTION,
            task_json(task),  # the same JSON as the dataclass, without asdict's deep copy
            result_type=ActionResult,
            timeout=timeout,
            retry_policy=once,
            activity_id=identity,
            local=task.timeout <= LOCAL_ACTIVITY_MAX_SECONDS,
        )
    except ActivityError as exc:
        cause = exc.cause if exc.cause is not None else exc
        return ActionResult(ok=False, error_type=type(cause).__name__, error_message=str(cause))
    return result


def _task_marker() -> int:
    """Name the workflow task in progress: the history length it started at (replays agree)."""
    return workflow.info().get_current_history_length()


def _warner(state: ActionState, ref: str) -> Callable[[str], None]:
    seen: set[str] = set()

    def warn(path: str) -> None:
        if path not in seen:
            seen.add(path)
            state.events.append(
                ActionEvent("warning", f"action '{ref}': path '{path}' matched nothing (None)")
            )

    return warn


async def _resolve_phrase(value: Any) -> datetime:
    """Read a ``wait_until`` phrase in a local activity (its answer is recorded in history)."""
    if not isinstance(value, str) or not value.strip():
        raise ActionFailedError(
            Failure("ValueError", f"wait_until: {value!r} is not a time; use {EXAMPLES}", 0)
        )
    answer = await placement.call(
        RESOLVE_INSTANT,
        InstantRequest(value, workflow.now().isoformat()),
        result_type=InstantResult,
        timeout=timedelta(seconds=10),
    )
    if answer.instant is None:
        raise ActionFailedError(Failure("ValueError", answer.message, 0))
    return datetime.fromisoformat(answer.instant)
