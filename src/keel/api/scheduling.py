"""Schedule triggers on both sides: the Temporal Schedule and its mirror row in the store.

A schedule trigger ``ref`` of workflow ``W`` becomes the Temporal Schedule
``schedule_id_for(W, ref)`` (``sched-W-ref``); each due time starts ``keel.run`` with the committed
version's definition and the trigger's ``inputs`` (checked against ``expects`` at commit), just
as :func:`keel.orchestration.client.start_run` would. Its runs get workflow ids
``sched-W-ref-<time>`` and carry the Keel workflow id and version in their memo, which is how
:mod:`keel.api.schedule_runs` gives them summary rows.

The store row (``sch_<hex>``, the id the API and CLI use) keeps the trigger's ``args`` as
written, the Temporal id, the trigger ref and the version in ``spec``, so ``PATCH`` can merge
changes into the args and validate them again with
:func:`keel.triggers.schedule.load_schedule_settings`.

``VARS`` of a scheduled run are read when the schedule is written (commit or ``PATCH``), because
Temporal starts these runs without asking Keel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from keel.api.state import ServiceState
from keel.dsl.expects import check_inputs
from keel.dsl.model import Workflow
from keel.errors import TriggerError
from keel.orchestration.payloads import WORKFLOW_NAME, RunRequest
from keel.store import schedules
from keel.store.tables import ScheduleRow
from keel.triggers.schedule import ScheduleSettings, load_schedule_settings, to_temporal

#: Memo keys of a scheduled run (read back by :mod:`keel.api.schedule_runs`).
MEMO_WORKFLOW = "keel_workflow_id"
MEMO_VERSION = "keel_version"

#: Args that say whether a schedule is paused; when a commit gives neither, a pause made
#: through the API survives the commit.
_PAUSE_ARGS = ("paused", "status")


@dataclasses.dataclass(frozen=True)
class ScheduleTrigger:
    """A schedule trigger, validated, ready to be written.

    Attributes:
        ref: The trigger's ref.
        temporal_id: The Temporal Schedule id.
        args: The trigger's ``args`` as JSON data.
        settings: The validated settings.
        inputs: ``settings.inputs`` with ``expects`` defaults applied.
        warnings: One message per unknown argument.
    """

    ref: str
    temporal_id: str
    args: dict[str, Any]
    settings: ScheduleSettings
    inputs: dict[str, Any]
    warnings: list[str]


def read_trigger(workflow: Workflow, ref: str, temporal_id: str, args: Any) -> ScheduleTrigger:
    """Validate a schedule trigger's ``args`` and its ``inputs`` against ``expects``.

    Raises:
        TriggerError: An argument is invalid, or the inputs do not match ``expects``; every
            problem is listed, each naming its argument.
    """
    data: dict[str, Any] = to_jsonable_python(dict(args or {}))
    settings, warnings = load_schedule_settings(data, ref)
    inputs, messages = check_inputs(workflow.entrypoint.expects, settings.inputs)
    if messages:
        raise TriggerError([f"args.inputs: {m}" for m in messages], ref)
    return ScheduleTrigger(ref, temporal_id, data, settings, dict(inputs), warnings)


async def write_schedule(
    state: ServiceState,
    session: AsyncSession,
    *,
    workflow_id: str,
    version: int,
    workflow: Workflow,
    trigger: ScheduleTrigger,
    row: ScheduleRow | None,
    keep_pause: bool,
) -> ScheduleRow:
    """Create or update the Temporal Schedule of ``trigger`` and its store row.

    Args:
        state: The service.
        session: The open session (the row is written through it).
        workflow_id: The workflow's id.
        version: The committed version the schedule runs.
        workflow: That version's definition.
        trigger: The validated trigger.
        row: The existing store row, or ``None`` to create one.
        keep_pause: Keep the Temporal Schedule's current paused state when it exists.
    """
    action = ScheduleActionStartWorkflow(
        WORKFLOW_NAME,
        RunRequest(
            definition=workflow.model_dump(mode="json", exclude_none=True),
            trigger=trigger.inputs,
            workflow_id=workflow_id,
            # Each firing loads the environment's VARS as they are then, not as they are now.
            load_variables=True,
        ),
        id=trigger.temporal_id,
        task_queue=state.task_queue,
        execution_timeout=_timeout(workflow),
        memo={MEMO_WORKFLOW: workflow_id, MEMO_VERSION: version},
    )
    schedule = to_temporal(trigger.settings, action)
    paused = await upsert(state.temporal, trigger.temporal_id, schedule, keep_pause=keep_pause)
    spec = {
        "ref": trigger.ref,
        "temporal_id": trigger.temporal_id,
        "version": version,
        "args": trigger.args,
    }
    if row is None:
        return await schedules.create_schedule(
            session, workflow_id, spec=spec, inputs=trigger.inputs, paused=paused
        )
    return await schedules.update_schedule(
        session, row.id, spec=spec, inputs=trigger.inputs, paused=paused
    )


def keeps_pause(args: Mapping[str, Any]) -> bool:
    """Return whether writing these args should keep the schedule's current paused state."""
    return not any(name in args for name in _PAUSE_ARGS)


async def upsert(client: Client, temporal_id: str, schedule: Schedule, *, keep_pause: bool) -> bool:
    """Create the Temporal Schedule, or update it when it exists; return whether it is paused."""
    try:
        await client.create_schedule(temporal_id, schedule)
        return schedule.state.paused
    except ScheduleAlreadyRunningError:
        pass
    paused = schedule.state.paused

    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        nonlocal paused
        if keep_pause:
            paused = current.description.schedule.state.paused
        new_state = dataclasses.replace(schedule.state, paused=paused)
        return ScheduleUpdate(schedule=dataclasses.replace(schedule, state=new_state))

    await client.get_schedule_handle(temporal_id).update(updater)
    return paused


async def delete_temporal(client: Client, temporal_id: str) -> None:
    """Delete a Temporal Schedule; one that is already gone is fine."""
    try:
        await client.get_schedule_handle(temporal_id).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise


def spec_of(row: ScheduleRow) -> tuple[str, str, int | None, dict[str, Any]]:
    """Return a row's trigger ref, Temporal id, version and args."""
    spec = row.spec or {}
    version = spec.get("version")
    return (
        str(spec.get("ref", "")),
        str(spec.get("temporal_id", row.id)),
        version if isinstance(version, int) else None,
        dict(spec.get("args") or {}),
    )


def _timeout(workflow: Workflow) -> timedelta | None:
    seconds = workflow.config.timeout
    return timedelta(seconds=seconds) if seconds else None
