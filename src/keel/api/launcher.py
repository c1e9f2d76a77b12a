"""Starting a run of a stored workflow: pick the version, check the input, resolve VARS, record it.

Used by ``POST /workflows/{id}/runs`` and by webhook deliveries, so every run is checked and
recorded the same way: the input is bounded (``KEEL_MAX_JSON_DEPTH``) and checked against
``entrypoint.expects`` (every bad field named, no run started), ``VARS`` come from the store for
the run's environment (through :class:`~keel.api.run_variables.VariablesCache`) and travel in the
run request (they are not secret), and a summary row is written after the start.

A committed version is parsed once per process (:func:`runnable`): versions never change, so the
parsed model and its JSON form are kept by ``(workflow id, version)`` and every later run of it
skips the read, the validation and the dump. Runs of a committed version also carry
``definition_key``, so the worker reuses its own parse too.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keel import expressions
from keel.api.commits import validated
from keel.api.errors import ApiError
from keel.api.run_records import RunStart
from keel.api.state import RunPlacement, ServiceState
from keel.dsl.expects import check_inputs
from keel.dsl.model import Workflow
from keel.errors import KeelError
from keel.orchestration.action_runner import stays_in_workflow
from keel.orchestration.client import StartedRun, start_run
from keel.store import workflows
from keel.store.outbox import Accepted
from keel.store.runs import TriggerType

_FIELD = re.compile(r"field '([^']+)'")

#: Parsed committed versions by (workflow id, version); versions are immutable.
_RUNNABLES: OrderedDict[tuple[str, int], Runnable] = OrderedDict()
_CACHE_SIZE = 256


@dataclass(frozen=True)
class Runnable:
    """A definition ready to start runs of: parsed, and in the JSON form runs carry.

    Attributes:
        workflow_id: The workflow's id.
        version: The committed version (``None`` for the draft).
        workflow: The parsed definition.
        document: Its JSON form (``model_dump(mode="json", exclude_none=True)``, as stored).
    """

    workflow_id: str
    version: int | None
    workflow: Workflow
    document: dict[str, Any]

    @property
    def key(self) -> str | None:
        """Return the id of this exact definition (``wf_x@3``), or ``None`` for a draft."""
        return None if self.version is None else f"{self.workflow_id}@{self.version}"

    @functools.cached_property
    def stays_in_workflow(self) -> bool:
        """Whether its runs need no activity (see ``action_runner.stays_in_workflow``)."""
        return stays_in_workflow(self.workflow)


@dataclass(frozen=True)
class Launched:
    """A run that was started and recorded.

    Attributes:
        execution_id: The run's id.
        workflow_id: The workflow's id.
        version: The committed version run (``None`` for the draft).
    """

    execution_id: str
    workflow_id: str
    version: int | None


@dataclass(frozen=True)
class RunOrder:
    """One run to start of a :class:`Runnable` whose input is already checked.

    Attributes:
        trigger: ``TRIGGER``, checked against ``expects`` and bounded.
        execution_id: The run's id; a fresh one when ``None``.
        idempotency_key: The delivery's key, recorded with the run.
        deduplicate: Start only if Temporal never saw ``execution_id`` (a keyed delivery).
    """

    trigger: Any
    execution_id: str | None = None
    idempotency_key: str | None = None
    deduplicate: bool = False


def runnable(workflow_id: str, version: int, document: dict[str, Any]) -> Runnable:
    """Return committed version ``version`` of ``workflow_id`` parsed, from the cache if there."""
    key = (workflow_id, version)
    found = _RUNNABLES.get(key)
    if found is None:
        found = Runnable(workflow_id, version, Workflow.model_validate(document), document)
        _RUNNABLES[key] = found
        while len(_RUNNABLES) > _CACHE_SIZE:
            _RUNNABLES.popitem(last=False)
    return found


async def launch(
    state: ServiceState,
    ref: str,
    *,
    inputs: Any,
    version: int | None = None,
    draft: bool = False,
    environment: str | None = None,
    trigger_type: TriggerType = "api",
) -> Launched:
    """Start a run of workflow ``ref`` (id or alias) and record its summary.

    Raises:
        NotFoundError: No such workflow or version.
        ApiError: 400 when ``inputs`` nest deeper than ``KEEL_MAX_JSON_DEPTH``; 409 when there
            is no committed version to run; 422 when the draft does not validate or the input
            does not match ``entrypoint.expects`` (one problem per field).
    """
    problem = state.bounds.depth_problem(inputs, "inputs")
    if problem is not None:
        raise ApiError(400, problem, "inputs")
    async with state.database.session() as session:
        row = await workflows.get_workflow(session, ref)
        target = await _definition(state, session, row.id, version, draft)
    trigger, messages = check_inputs(target.workflow.entrypoint.expects, inputs)
    if messages:
        raise input_refusal(messages)
    (run,) = await start_runs(
        state, target, [RunOrder(trigger)], trigger_type=trigger_type, environment=environment
    )
    return Launched(run.execution_id, target.workflow_id, target.version)


async def start_runs(
    state: ServiceState,
    target: Runnable,
    orders: Sequence[RunOrder],
    *,
    trigger_type: TriggerType,
    environment: str | None = None,
    wait: bool = False,
) -> list[StartedRun]:
    """Start one run per order, in order, then record their summaries in one session.

    No store connection is held while Temporal answers, and none before the starts unless
    ``VARS`` must be read. A summary row is written without reading first; a row that is already
    there (a redelivery of a keyed delivery) is left as it is.

    ``wait``: the caller waits for the results, so the runs start where they finish soonest
    (:meth:`ServiceState.placement`: eagerly in this process when it orchestrates runs and
    they need no activity).

    Returns:
        The started runs, in order; each handle names the run Temporal started (its run id), so
        waiting on it needs no lookup of the workflow's current run.
    """
    where = state.placement(wait=wait, inline=target.stays_in_workflow)
    started: list[tuple[str, RunOrder]] = []
    runs: list[StartedRun] = []
    try:
        for order in orders:
            execution_id = order.execution_id or f"run-{uuid.uuid4().hex}"
            run = await _start(
                state,
                target,
                where,
                trigger=order.trigger,
                execution_id=execution_id,
                environment=environment,
                deduplicate=order.deduplicate,
            )
            started.append((execution_id, order))
            runs.append(run)
    except Exception as exc:
        if not started:
            raise  # nothing started: the error is the whole answer
        # Every input was checked before the first start, so only Temporal can fail here, after
        # some runs of the batch started. Those are recorded and named, so a caller retries only
        # the rest instead of starting them twice.
        await _record(state, target, started, trigger_type)
        ids = [execution_id for execution_id, _ in started]
        raise ApiError(
            503,
            f"Temporal refused run {len(started) + 1} of {len(orders)} ({type(exc).__name__}); "
            f"runs 1 to {len(started)} started ({', '.join(ids)}), the rest did not",
            None,
            execution_ids=ids,
        ) from exc
    await _record(state, target, started, trigger_type)
    return runs


async def start_accepted(state: ServiceState, entry: Accepted) -> bool:
    """Start an accepted run (an outbox entry) on the workers' queue; ``False`` if Temporal had it.

    Its definition comes from the parsed-version cache (or the store), its ``VARS`` are read
    now, for the run's environment, as for any start. The start refuses a duplicate id
    (``REJECT_DUPLICATE``): an entry relayed twice never starts its run twice.

    Raises:
        NotFoundError: The workflow or its version is gone (deleted before the start).
    """
    target = _RUNNABLES.get((entry.workflow_id, entry.version))
    if target is None:
        async with state.database.session() as session:
            stored = await workflows.get_version(session, entry.workflow_id, entry.version)
            target = runnable(entry.workflow_id, entry.version, dict(stored.definition))
    where = state.placement(wait=False, inline=target.stays_in_workflow)
    started = await _start(
        state,
        target,
        where,
        trigger=entry.trigger,
        execution_id=entry.execution_id,
        environment=entry.environment,
        deduplicate=True,
    )
    return started.started


async def _start(
    state: ServiceState,
    target: Runnable,
    where: RunPlacement,
    *,
    trigger: Any,
    execution_id: str,
    environment: str | None,
    deduplicate: bool,
) -> StartedRun:
    """Start one run of ``target`` where ``where`` says, with its environment's ``VARS``."""
    env = environment or _environment(target.workflow, trigger)
    return await start_run(
        state.temporal,
        target.workflow,
        document=target.document,
        definition_key=target.key,
        task_queue=where.task_queue,
        trigger=trigger,
        workflow_id=target.workflow_id,
        execution_id=execution_id,
        eager=where.eager,
        actions_queue=where.actions_queue,
        variables=await state.variables.get(state.database, env),
        environment=environment,
        deduplicate=deduplicate,
    )


async def _record(
    state: ServiceState,
    target: Runnable,
    started: Sequence[tuple[str, RunOrder]],
    trigger_type: TriggerType,
) -> None:
    """Write the summary rows of runs that started, with concurrent starts' rows.

    See :class:`~keel.api.run_records.RunRecorder`. Written after the starts, so no write lock
    is held while Temporal answers (SQLite has one writer: holding it across a start serialises
    every concurrent start).
    """
    await state.recorder.record(
        [
            RunStart(
                execution_id,
                target.workflow_id,
                target.version,
                trigger_type,
                idempotency_key=order.idempotency_key,
                exists_ok=order.deduplicate,
            )
            for execution_id, order in started
        ]
    )


def input_refusal(messages: list[str]) -> ApiError:
    """Return the 422 error of an input that does not match ``entrypoint.expects``."""
    problems = []
    for message in messages:
        match = _FIELD.search(message)
        field = f"inputs.{match.group(1)}" if match else "inputs"
        problems.append({"field": field, "message": message})
    return ApiError(
        422,
        f"the inputs do not match entrypoint.expects ({len(messages)} problem(s)); "
        "no run was started",
        problems[0]["field"],
        problems=problems,
    )


async def _definition(
    state: ServiceState, session: AsyncSession, workflow_id: str, version: int | None, draft: bool
) -> Runnable:
    if draft:
        if version is not None:
            raise ApiError(422, "give either a version or draft: true, not both", "version")
        row = await workflows.get_workflow(session, workflow_id)
        workflow = validated(state, row.draft_yaml)
        return Runnable(
            workflow_id, None, workflow, workflow.model_dump(mode="json", exclude_none=True)
        )
    if version is None:
        latest = await workflows.latest_version(session, workflow_id)
        if latest is None:
            raise ApiError(
                409,
                f"workflow {workflow_id} has no committed version: commit it first, or run the "
                "draft with draft: true",
                "version",
            )
        stored = latest
    else:
        stored = await workflows.get_version(session, workflow_id, version)
    return runnable(workflow_id, stored.version, dict(stored.definition))


def _environment(workflow: Workflow, trigger: Any) -> str:
    """Return the run's environment: ``config.environment``, evaluated over the trigger if needed.

    An expression that cannot be evaluated here (it reads something only the run has) falls back
    to ``default`` for ``VARS``; the run itself evaluates it again and reports any error.
    """
    text = workflow.config.environment
    if not expressions.has_expression(text):
        return text
    try:
        value = expressions.evaluate_templates(text, {"TRIGGER": trigger, "VARS": {}, "ENV": {}})
    except KeelError:
        return "default"
    return str(value)
