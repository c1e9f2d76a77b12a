"""``core.workflow.execute``: child runs as real Temporal child workflows (workflow code).

The orchestrator handles this action natively rather than through an executor, because starting a
child workflow is an orchestration step, not action code:

1. the committed child definition is resolved by the ``keel.resolve_workflow`` local activity
   (from the store in the service, from files for ``keel run --workflows``);
2. ``trigger_inputs`` are checked against the child's ``entrypoint.expects``;
3. the child starts as a Temporal child workflow of this run, with its lineage
   (:class:`~keel.orchestration.payloads.ParentLink`) and, with ``inherit``, the parent's context
   (read in the child as ``PARENT``; secrets are never copied, only the parent's environment);
4. ``wait`` returns the child's result; ``detach`` returns ``{wf_id, wf_exec_id, status}`` and the
   child outlives the parent (parent close policy ABANDON).

With ``for_each``, one child per item: ``loop_strategy`` parallel | batch (``batch_size``) |
sequential, and ``fail_strategy`` isolated (a failed child is an error entry in the result list)
or all (the first failure fails the action and cancels the other children).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

from keel import expressions
from keel.dsl.expects import check_inputs
from keel.dsl.model import ActionStatement, Workflow
from keel.errors import ExpressionError
from keel.orchestration import placement
from keel.orchestration.context import RunContext, reads_secrets
from keel.orchestration.failures import ActionFailedError, Failure
from keel.orchestration.payloads import (
    RESOLVE_WORKFLOW,
    WORKFLOW_NAME,
    ParentLink,
    RelaySpec,
    ResolvedWorkflow,
    ResolveRequest,
    RunRequest,
    run_result,
)

CHILD_ACTION = "core.workflow.execute"
#: The most children one run starts itself; a larger fan-out is split into relay runs, so no
#: history grows past a few hundred events per relay. Measured here for 1,000 children: 24/s
#: with relays of 500, 40/s with 250, 45/s with 100 (a run's cost per child grows with the
#: number of children it has pending); 25, 50 and 100 measured alike once each child no longer
#: resolved its workflow on its own (~35/s, the dev server's own limit for child runs here).
FANOUT_PER_RUN = 100
#: How many relay runs of one fan-out run at once (so at most ~1,000 children are in flight).
RELAYS_AT_ONCE = 10
#: The contexts ``inherit: true`` passes down.
INHERITABLE = ("TRIGGER", "ACTIONS", "VARS", "SECRETS", "ENV")

#: A child workflow reference: (alias, id, version).
_Key = tuple[str | None, str | None, Any]


#: Temporal's longest workflow id (the server's ``limit.maxIDLength``, 1,000 by default).
TEMPORAL_MAX_ID = 1000

#: The longest child run id Keel starts: Temporal's limit less room for the ``-attempt<n>``
#: suffix of a retried child (up to 9,999 attempts).
MAX_CHILD_RUN_ID = TEMPORAL_MAX_ID - len("-attempt9999")


class ChildLauncher:
    """Runs ``core.workflow.execute`` statements of one run."""

    def __init__(
        self,
        context: RunContext,
        environment: str,
        workflow_id: str,
        parent_context: dict[str, Any] | None,
        *,
        scope: str = "",
    ) -> None:
        self.context = context
        self.environment = environment
        self.workflow_id = workflow_id
        self.parent_context = parent_context
        self.scope = scope
        # One resolve per child workflow per run: the children of a fan-out start at once, so
        # they share the in-flight local activity (a failed one is forgotten, so a later call
        # tries again). The definition is validated once per resolve, too.
        self._resolving: dict[_Key, asyncio.Task[tuple[ResolvedWorkflow, Workflow]]] = {}
        # In a relay run: what the original parent passes down (computed there, once).
        self.relayed_inheritance: dict[str, Any] | None = None
        self.relaying = False

    def in_stream(self, context: RunContext, stream: str) -> ChildLauncher:
        """Return the launcher of one stream of a scatter or loop region.

        Its children see the stream's context (``ACTIONS`` of that item or pass, for inputs
        and ``inherit``), and their run ids carry the stream (:func:`stream_scope`), so the same
        statement in two streams starts two distinct children. Resolves are shared with this
        launcher: a child workflow is looked up once per run, whatever the number of streams.
        """
        launcher = ChildLauncher(
            context,
            self.environment,
            self.workflow_id,
            self.parent_context,
            scope=stream_scope(stream),
        )
        launcher._resolving = self._resolving
        launcher.relayed_inheritance = self.relayed_inheritance
        launcher.relaying = self.relaying
        return launcher

    def _suffix(self, ref: str) -> str:
        """Return the part of a child's run id after ``<parent>--`` for statement ``ref``."""
        return f"{ref}.{self.scope}" if self.scope else ref

    async def run(self, stmt: ActionStatement, warn: Callable[[str], None]) -> Any:
        """Run the statement's child (or children, with ``for_each``) and return the result."""
        bindings: list[dict[str, Any]] | None = None
        if stmt.for_each is not None:
            try:
                bindings = expressions.iterate(
                    stmt.for_each,
                    self.context.as_dict(),
                    strict=self.context.strict,
                    on_miss=warn,
                    clock=self.context.clock,
                )
            except ExpressionError as exc:
                raise ActionFailedError(Failure("ExpressionError", f"for_each: {exc}", 0)) from exc
        if bindings is None:
            return await self._one(stmt, self._arguments(stmt, None, warn), None)
        calls = [self._arguments(stmt, b, warn) for b in bindings]
        if len(calls) > FANOUT_PER_RUN:
            return await self._relay(stmt, calls)
        return await self.run_calls(stmt, calls, 0)

    async def run_calls(
        self, stmt: ActionStatement, calls: list[dict[str, Any]], offset: int
    ) -> list[Any]:
        """Run one child per call with the statement's loop and fail strategies, in order."""
        first = calls[0] if calls else {}
        strategy = str(first.get("loop_strategy", "batch"))
        fail_all = first.get("fail_strategy", "isolated") == "all"
        size = max(1, int(first.get("batch_size", 32)))
        if strategy == "sequential":
            size = 1
        elif strategy == "parallel":
            size = max(1, len(calls))
        results: list[Any] = []
        for start in range(0, len(calls), size):
            chunk = calls[start : start + size]
            results.extend(await self._chunk(stmt, chunk, offset + start, fail_all))
        return results

    async def _relay(self, stmt: ActionStatement, calls: list[dict[str, Any]]) -> list[Any]:
        """Split a large fan-out into relay runs of at most :data:`FANOUT_PER_RUN` children."""
        first = calls[0]
        inherited = self._inherited(first.get("inherit", False))
        info = workflow.info()
        statement = stmt.model_dump(mode="json", exclude_none=True)

        async def relay(start: int) -> list[Any]:
            spec = RelaySpec(statement, calls[start : start + FANOUT_PER_RUN], start, inherited)
            try:
                result: list[Any] = await workflow.execute_child_workflow(
                    WORKFLOW_NAME,
                    RunRequest(
                        definition={},
                        workflow_id=self.workflow_id,
                        environment=self.environment,
                        parent=ParentLink(info.workflow_id, self.workflow_id, stmt.ref),
                        relay=spec,
                        actions_queue=placement.actions_queue(),
                    ),
                    id=child_run_id(info.workflow_id, f"{self._suffix(stmt.ref)}-relay{start}"),
                    task_queue=info.task_queue,
                    parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                )
            except ChildWorkflowError as exc:
                raise ActionFailedError(
                    Failure("ChildWorkflowFailed", _failure_text(exc), 1)
                ) from exc
            return result

        starts = list(range(0, len(calls), FANOUT_PER_RUN))
        if first.get("loop_strategy", "batch") == "sequential":
            parts = [await relay(start) for start in starts]
        else:
            # A window of relays at a time: with all 10,000 children of a fan-out in flight at
            # once the dev server did worse (342 s here) than with ~1,000 at a time (306 s).
            # With fail_strategy all, relays still waiting for the window are cancelled too.
            window = asyncio.Semaphore(RELAYS_AT_ONCE)

            async def windowed(start: int) -> list[Any]:
                async with window:
                    return await relay(start)

            tasks = [asyncio.ensure_future(windowed(start)) for start in starts]
            try:
                parts = list(await asyncio.gather(*tasks))
            except ActionFailedError:
                for task in tasks:
                    task.cancel()
                raise
        return [item for part in parts for item in part]

    async def _chunk(
        self, stmt: ActionStatement, chunk: list[dict[str, Any]], offset: int, fail_all: bool
    ) -> list[Any]:
        async def one(i: int, args: dict[str, Any]) -> Any:
            try:
                return await self._one(stmt, args, offset + i)
            except ActionFailedError as failed:
                if fail_all:
                    raise
                return {"error": failed.failure.as_error(f"{stmt.ref}[{offset + i}]")}

        tasks = [asyncio.ensure_future(one(i, args)) for i, args in enumerate(chunk)]
        try:
            return list(await asyncio.gather(*tasks))
        except ActionFailedError:
            for task in tasks:
                task.cancel()  # cancelling a waiting child workflow requests its cancellation
            raise

    def _arguments(
        self,
        stmt: ActionStatement,
        loop_vars: Mapping[str, Any] | None,
        warn: Callable[[str], None],
    ) -> dict[str, Any]:
        if any(
            reads_secrets(text)
            for _, text in expressions.iter_strings(stmt.args.get("trigger_inputs"))
        ):
            raise ActionFailedError(
                Failure(
                    "ValueError",
                    "trigger_inputs may not read SECRETS (they would be written into the child's "
                    "history); use `inherit: [SECRETS]` and read PARENT.SECRETS in the child",
                    0,
                )
            )
        try:
            args = self.context.evaluate(stmt.args, loop_vars, warn)
        except ExpressionError as exc:
            raise ActionFailedError(Failure("ExpressionError", f"args: {exc}", 0)) from exc
        if not isinstance(args, dict):
            raise ActionFailedError(Failure("TypeError", "args must be a mapping", 0))
        if not args.get("workflow_alias") and not args.get("workflow_id"):
            raise ActionFailedError(Failure("ValueError", "give workflow_alias or workflow_id", 0))
        return args

    async def _one(self, stmt: ActionStatement, args: dict[str, Any], item: int | None) -> Any:
        resolved, child = await self._resolve(args)
        inputs, messages = check_inputs(child.entrypoint.expects, args.get("trigger_inputs") or {})
        if messages:
            raise ActionFailedError(
                Failure("InputError", "trigger_inputs: " + "; ".join(messages), 1)
            )
        info = workflow.info()
        base = self._suffix(stmt.ref)
        suffix = base if item is None else f"{base}-{item}"
        request = RunRequest(
            definition=resolved.definition,
            trigger=inputs,
            workflow_id=resolved.workflow_id,
            environment=args.get("environment") or None,
            parent=ParentLink(info.workflow_id, self.workflow_id, stmt.ref),
            parent_context=(
                self.relayed_inheritance
                if self.relaying
                else self._inherited(args.get("inherit", False))
            ),
            actions_queue=placement.actions_queue(),
        )
        timeout = args.get("timeout")
        options: dict[str, Any] = {
            "id": child_run_id(info.workflow_id, suffix),
            "task_queue": info.task_queue,
            "execution_timeout": timedelta(seconds=float(timeout)) if timeout else None,
        }
        if args.get("wait_strategy", "wait") == "detach":
            handle = await workflow.start_child_workflow(
                WORKFLOW_NAME, request, parent_close_policy=ParentClosePolicy.ABANDON, **options
            )
            return {"wf_id": resolved.workflow_id, "wf_exec_id": handle.id, "status": "STARTED"}
        return await self._wait_for_child(stmt, request, options)

    async def _wait_for_child(
        self, stmt: ActionStatement, request: RunRequest, options: dict[str, Any]
    ) -> Any:
        """Run the child to its end, again (a new child run) per ``retry_policy``."""
        policy = stmt.retry_policy
        first_id = options["id"]
        attempt = 0
        while True:
            attempt += 1
            # Each attempt is its own child run; later ones are named after their attempt.
            child_id = first_id if attempt == 1 else f"{first_id}-attempt{attempt}"
            try:
                # A child run returns its result with its final state: the parent wants the result.
                return run_result(
                    await workflow.execute_child_workflow(
                        WORKFLOW_NAME,
                        request,
                        parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                        **{**options, "id": child_id},
                    )
                )
            except ChildWorkflowError as exc:
                if policy.max_attempts != 0 and attempt >= policy.max_attempts:
                    message = f"child run {child_id} failed: {_failure_text(exc)}"
                    raise ActionFailedError(
                        Failure("ChildWorkflowFailed", message, attempt)
                    ) from exc
            delay = policy.backoff.delay(attempt)
            if delay > 0:
                await workflow.sleep(timedelta(seconds=delay))

    async def start_error_handler(self, alias: str, trigger: dict[str, Any]) -> str:
        """Start the error-handler workflow ``alias`` for this failed run; return its run id.

        The handler is detached (it outlives this run, which is about to fail) and marked as a
        handler, so a failing handler does not start another handler.
        """
        resolved, _ = await self._resolve({"workflow_alias": alias})
        info = workflow.info()
        handle = await workflow.start_child_workflow(
            WORKFLOW_NAME,
            RunRequest(
                definition=resolved.definition,
                trigger=trigger,
                workflow_id=resolved.workflow_id,
                parent=ParentLink(info.workflow_id, self.workflow_id, "error_handler"),
                is_error_handler=True,
                actions_queue=placement.actions_queue(),
            ),
            id=child_run_id(info.workflow_id, "error-handler"),
            task_queue=info.task_queue,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        return handle.id

    async def _resolve(self, args: dict[str, Any]) -> tuple[ResolvedWorkflow, Workflow]:
        """Return the child workflow ``args`` name and its validated definition."""
        version = args.get("version")
        key: _Key = (args.get("workflow_alias"), args.get("workflow_id"), version)
        task = self._resolving.get(key)
        if task is None:
            task = asyncio.ensure_future(self._lookup(key))
            self._resolving[key] = task
        try:
            # shield: a cancelled caller (fail_strategy all) must not cancel the shared lookup
            return await asyncio.shield(task)
        except ActionFailedError:
            if self._resolving.get(key) is task:
                del self._resolving[key]
            raise

    async def _lookup(self, key: _Key) -> tuple[ResolvedWorkflow, Workflow]:
        alias, workflow_id, version = key
        try:
            resolved = await placement.call(
                RESOLVE_WORKFLOW,
                ResolveRequest(alias, workflow_id, int(version) if version is not None else None),
                result_type=ResolvedWorkflow,
                timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError as exc:
            cause = exc.cause if exc.cause is not None else exc
            raise ActionFailedError(Failure("ResolveError", str(cause), 1)) from exc
        if not resolved.found:
            raise ActionFailedError(Failure("WorkflowNotFound", resolved.message, 1))
        return resolved, Workflow.model_validate(resolved.definition)

    def _inherited(self, inherit: Any) -> dict[str, Any] | None:
        if not inherit:
            return None
        wanted = INHERITABLE if inherit is True else tuple(str(x) for x in inherit)
        unknown = sorted(set(wanted) - set(INHERITABLE))
        if unknown:
            raise ActionFailedError(
                Failure(
                    "ValueError",
                    f"inherit: unknown context(s) {', '.join(unknown)}; "
                    f"choose from {', '.join(INHERITABLE)}",
                    0,
                )
            )
        full = self.context.as_dict()
        passed: dict[str, Any] = {name: full[name] for name in wanted if name in full}
        if "SECRETS" in wanted:
            # Never the values: the child's activities read them from this environment.
            passed["SECRETS"] = {}
            passed["SECRETS_ENVIRONMENT"] = self.environment
        if self.parent_context is not None:
            passed["PARENT"] = self.parent_context
        return passed


def child_run_id(parent: str, suffix: str) -> str:
    """Return the run id of a child of run ``parent``: ``<parent>--<suffix>``.

    Raises:
        ActionFailedError: The id would pass :data:`MAX_CHILD_RUN_ID`. Temporal refuses such a
            start as a bad command, which fails the parent's workflow task over and over: the
            run would hang instead of failing.
    """
    run_id = f"{parent}--{suffix}"
    if len(run_id) > MAX_CHILD_RUN_ID:
        message = (
            f"the child run's id would be {len(run_id):,} characters, over Temporal's limit of "
            f"{TEMPORAL_MAX_ID:,} characters: child workflows (and regions) are nested too "
            f"deep under this run, or its own id is too long ({len(parent):,} characters)"
        )
        raise ActionFailedError(Failure("ValueError", message, 1))
    return run_id


def stream_scope(stream: str) -> str:
    """Return a stream label as a run-id part: ``scan[3]/retry#2`` -> ``scan-3.retry-p2``.

    Labels name items as ``<scatter>[<index>]`` and passes as ``<loop>#<pass>``, nested with
    ``/``; ids must not hold ``/`` or ``#`` (they appear in URLs). Refs are ``[a-z0-9_]+``, so
    the token is unambiguous: ``-N`` is an item, ``-pN`` a pass, ``.`` separates levels.
    """
    return stream.replace("/", ".").replace("[", "-").replace("]", "").replace("#", "-p")


def _failure_text(exc: ChildWorkflowError) -> str:
    """Return what made a child run fail (its own failure message, not Temporal's wrapper)."""
    cause = exc.cause if exc.cause is not None else exc
    return getattr(cause, "message", None) or str(cause)
