"""Starting a run of a stored workflow: pick the version, check the input, resolve VARS, record it.

Used by ``POST /workflows/{id}/runs`` and meant for the other ways in too (webhooks, schedules),
so every run is checked and recorded the same way: the input is checked against
``entrypoint.expects`` (every bad field named, no run started), ``VARS`` are read from the store
for the run's environment and travel in the run request (they are not secret), and a summary row
is written in the same transaction as the start.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from keel import expressions
from keel.api.commits import validated
from keel.api.errors import ApiError
from keel.api.state import ServiceState
from keel.dsl.expects import check_inputs
from keel.dsl.model import Workflow
from keel.errors import KeelError
from keel.orchestration.client import start_run
from keel.store import runs, variables, workflows
from keel.store.runs import TriggerType

_FIELD = re.compile(r"field '([^']+)'")


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


async def launch(
    state: ServiceState,
    ref: str,
    *,
    inputs: Any,
    version: int | None = None,
    draft: bool = False,
    environment: str | None = None,
    trigger_type: TriggerType = "api",
    idempotency_key: str | None = None,
    execution_id: str | None = None,
    deduplicate: bool = False,
) -> Launched:
    """Start a run of workflow ``ref`` (id or alias) and record its summary.

    ``execution_id`` fixes the run's id (a webhook derives it from the delivery's idempotency
    key); with ``deduplicate`` a run Temporal already knows under that id is not started again
    (see :func:`keel.orchestration.client.start_run`).

    Raises:
        NotFoundError: No such workflow or version.
        ApiError: 409 when there is no committed version to run; 422 when the draft does not
            validate or the input does not match ``entrypoint.expects`` (one problem per field).
        ConflictError: The idempotency key already started a run.
    """
    async with state.database.session() as session:
        row = await workflows.get_workflow(session, ref)
        workflow, number = await _definition(state, session, row.id, version, draft)
        trigger, messages = check_inputs(workflow.entrypoint.expects, inputs)
        if messages:
            raise input_refusal(messages)
        env = environment or _environment(workflow, trigger)
        run_vars = await variables.variables_mapping(session, env)
        execution_id = execution_id or f"run-{uuid.uuid4().hex}"
        await start_run(
            state.temporal,
            workflow,
            task_queue=state.task_queue,
            trigger=trigger,
            workflow_id=row.id,
            execution_id=execution_id,
            eager=state.eager,
            variables=run_vars,
            environment=environment,
            deduplicate=deduplicate,
        )
        # Written after the start, so no write lock is held while Temporal answers (SQLite
        # has one writer: holding it across the start serialises every concurrent start).
        await runs.record_run_start(
            session,
            execution_id,
            workflow_id=row.id,
            version=number,
            trigger_type=trigger_type,
            idempotency_key=idempotency_key,
        )
    return Launched(execution_id, row.id, number)


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
) -> tuple[Workflow, int | None]:
    if draft:
        if version is not None:
            raise ApiError(422, "give either a version or draft: true, not both", "version")
        row = await workflows.get_workflow(session, workflow_id)
        return validated(state, row.draft_yaml), None
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
    return Workflow.model_validate(stored.definition), stored.version


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
