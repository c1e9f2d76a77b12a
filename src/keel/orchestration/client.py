"""Starting runs: the only caller of ``start_workflow`` in Keel.

A run is started with the workflow document as data, so a worker never reads files or the store
to learn what to run. From a process that also runs a worker on the same task queue, runs start
*eagerly*: the server hands the first workflow task straight back to this process, skipping a
round of matching (4.5x lower latency for short runs, see ``perf-notes.md``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from keel.dsl.model import Workflow
from keel.errors import KeelError
from keel.orchestration.final_state import read_closed
from keel.orchestration.payloads import (
    WORKFLOW_NAME,
    RunProgress,
    RunRequest,
    request_json,
    run_result,
)


class RunFailedError(KeelError):
    """A run ended in failure; the message names the failing action, its attempts and cause."""


@dataclass(frozen=True)
class StartedRun:
    """A run that Temporal has accepted.

    Attributes:
        execution_id: The Temporal workflow id of the run.
        handle: The Temporal handle, to wait for or inspect the run.
        started: ``False`` when a deduplicated start found the run already there (nothing new
            was started; ``handle`` is the earlier run's).
    """

    execution_id: str
    handle: WorkflowHandle[Any, Any]
    started: bool = True


async def start_run(
    client: Client,
    workflow: Workflow,
    *,
    task_queue: str,
    trigger: Any = None,
    workflow_id: str = "",
    execution_id: str | None = None,
    eager: bool = False,
    completed: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    environment: str | None = None,
    deduplicate: bool = False,
    document: dict[str, Any] | None = None,
    definition_key: str | None = None,
    actions_queue: str | None = None,
) -> StartedRun:
    """Start a run of ``workflow`` (already validated, with ``trigger`` already checked).

    Args:
        client: The Temporal client.
        workflow: The workflow to run.
        task_queue: The queue Keel's workers poll.
        trigger: The trigger input.
        workflow_id: Keel's id of the workflow (reaches expressions as ``ENV.workflow.id``).
        execution_id: The run's id; a new unique one when not given.
        eager: Start eagerly (only from a process that runs a worker on ``task_queue``).
        completed: Results of actions to treat as already done (a re-run from a failure).
        variables: ``VARS`` of the run (workspace variables, name -> key -> value).
        environment: Overrides the workflow's ``config.environment`` for this run.
        deduplicate: ``execution_id`` names one delivery (an idempotency key): start it only if
            Temporal has never seen that id (``REJECT_DUPLICATE``, open or closed runs), and
            otherwise return the earlier run with ``started=False``. This holds across API
            restarts and between several API processes, because Temporal decides.
        document: ``workflow`` in JSON form, when the caller already has it (a stored version):
            saves dumping the model on every run.
        definition_key: Names this exact definition for good (``wf_x@3``: a committed version,
            which never changes), so workers parse it once and reuse it (see
            ``RunRequest.definition_key``); ``None`` for drafts and files.
        actions_queue: Run the actions as regular activities on this queue instead of beside
            the workflow task (``RunRequest.actions_queue``).
    """
    execution_id = execution_id or f"run-{uuid.uuid4().hex}"
    request = RunRequest(
        definition=(
            document
            if document is not None
            else workflow.model_dump(mode="json", exclude_none=True)
        ),
        definition_key=definition_key,
        trigger=trigger,
        workflow_id=workflow_id,
        completed=dict(completed or {}),
        variables=dict(variables or {}),
        environment=environment,
        actions_queue=actions_queue,
    )
    timeout = workflow.config.timeout
    policy = (
        WorkflowIDReusePolicy.REJECT_DUPLICATE
        if deduplicate
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE
    )
    try:
        handle: WorkflowHandle[Any, Any] = await client.start_workflow(
            WORKFLOW_NAME,
            request_json(request),  # the same JSON, without the converter's deep copy
            id=execution_id,
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=timeout) if timeout else None,
            request_eager_start=eager,
            id_reuse_policy=policy,
        )
    except WorkflowAlreadyStartedError:
        if not deduplicate:
            raise
        return StartedRun(execution_id, client.get_workflow_handle(execution_id), started=False)
    return StartedRun(execution_id, handle)


async def rerun_from_failure(
    client: Client, execution_id: str, *, task_queue: str, new_execution_id: str | None = None
) -> StartedRun:
    """Start a new run of a failed run's workflow that resumes at its failed action.

    The new run gets the same definition and trigger; the actions that succeeded before are not
    run again (their results are reused), so the walk restarts at the action that failed.
    """
    handle = client.get_workflow_handle(execution_id)
    description = await handle.describe()
    if description.status is not WorkflowExecutionStatus.FAILED:
        status = description.status.name.lower() if description.status else "unknown"
        raise KeelError(f"run {execution_id} is {status}; only a failed run can be re-run")
    request = await original_request(client, execution_id)
    # A failed run's failure carries its context; older runs are asked (a worker replays them).
    context = (await read_closed(handle)).context
    if context is None:
        context = await handle.query("context", result_type=dict)
    completed = {
        ref: entry.get("result")
        for ref, entry in context.get("ACTIONS", {}).items()
        if "error" not in entry
    }
    workflow = Workflow.model_validate(request.definition)
    return await start_run(
        client,
        workflow,
        task_queue=task_queue,
        trigger=request.trigger,
        workflow_id=request.workflow_id,
        execution_id=new_execution_id,
        completed=completed,
        variables=request.variables,
        environment=request.environment,
    )


async def original_request(client: Client, execution_id: str) -> RunRequest:
    """Return the :class:`RunRequest` a run was started with (from its history)."""
    history = await client.get_workflow_handle(execution_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (request,) = await client.data_converter.decode(started.input.payloads, [RunRequest])
    if not isinstance(request, RunRequest):
        raise KeelError(f"run {execution_id} was not started by Keel")
    return request


async def wait_result(run: StartedRun) -> Any:
    """Wait for the run to end; return its result or raise :class:`RunFailedError`."""
    try:
        return run_result(await run.handle.result())
    except WorkflowFailureError as exc:
        raise RunFailedError(_failure_message(exc)) from exc


async def progress(run: StartedRun) -> RunProgress:
    """Ask the run for the state of each action."""
    state: RunProgress = await run.handle.query("progress", result_type=RunProgress)
    return state


def _failure_message(exc: WorkflowFailureError) -> str:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    if isinstance(cause, TemporalTimeoutError):
        return "the run exceeded its config.timeout and was stopped"
    return str(cause) if cause is not None else str(exc)
