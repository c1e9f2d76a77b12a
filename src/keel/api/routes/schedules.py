"""``/schedules``: list and inspect schedule triggers; pause, resume, run now, backfill, change.

Schedules are made by committing a workflow with ``schedule`` triggers (see
:mod:`keel.api.triggers_sync`); these routes act on them. A schedule is named by Keel's id
(``sch_...``) or by its Temporal id (``sched-<workflow>-<ref>``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Query
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleHandle,
    ScheduleOverlapPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from keel.api.deps import get_state
from keel.api.errors import ApiError
from keel.api.scheduling import read_trigger, spec_of, write_schedule
from keel.api.schemas.schedules import (
    BackfillIn,
    PauseIn,
    ScheduleAccepted,
    ScheduleDetailOut,
    ScheduledRunOut,
    ScheduleOut,
    SchedulePatch,
    TriggerIn,
)
from keel.api.state import ServiceState
from keel.dsl.model import Workflow
from keel.errors import NotFoundError, TriggerError
from keel.store import schedules, workflows
from keel.store.tables import ScheduleRow
from keel.triggers.schedule import backfill

T = TypeVar("T")

router = APIRouter(prefix="/schedules", tags=["schedules"])

State = Annotated[ServiceState, Depends(get_state)]


@router.get("", response_model=list[ScheduleOut], summary="List schedules")
async def list_schedules(
    state: State,
    workflow: Annotated[str | None, Query(description="A workflow id or alias.")] = None,
) -> list[ScheduleOut]:
    """Return the schedules of every workflow (or of one), oldest first."""
    async with state.database.session() as session:
        workflow_id = None
        if workflow is not None:
            workflow_id = (await workflows.get_workflow(session, workflow)).id
        rows = await schedules.list_schedules(session, workflow_id=workflow_id)
        return [ScheduleOut.of(row) for row in rows]


@router.get("/{schedule_id}", response_model=ScheduleDetailOut, summary="Inspect a schedule")
async def get_schedule(schedule_id: str, state: State) -> ScheduleDetailOut:
    """Return a schedule with its next due times and the runs it started recently."""
    async with state.database.session() as session:
        row = await _find(session, schedule_id)
        out = ScheduleOut.of(row)
    description = await _temporal(row, _handle(state, row).describe())
    recent = [
        ScheduledRunOut(
            execution_id=action.action.workflow_id,
            scheduled_at=action.scheduled_at,
            started_at=action.started_at,
        )
        for action in description.info.recent_actions
        if isinstance(action.action, ScheduleActionExecutionStartWorkflow)
    ]
    return ScheduleDetailOut(
        **{**out.model_dump(), "paused": description.schedule.state.paused},
        note=description.schedule.state.note or None,
        runs_started=description.info.num_actions,
        next_runs=list(description.info.next_action_times),
        recent_runs=recent,
    )


@router.post("/{schedule_id}/pause", response_model=ScheduleOut, summary="Pause a schedule")
async def pause(
    schedule_id: str, state: State, body: Annotated[PauseIn | None, Body()] = None
) -> ScheduleOut:
    """Stop starting runs until resumed (running runs go on)."""
    note = (body.note if body else None) or "paused through the Keel API"
    return await _set_paused(state, schedule_id, True, note)


@router.post("/{schedule_id}/resume", response_model=ScheduleOut, summary="Resume a schedule")
async def resume(
    schedule_id: str, state: State, body: Annotated[PauseIn | None, Body()] = None
) -> ScheduleOut:
    """Start runs at the due times again (missed ones are not caught up beyond the window)."""
    note = (body.note if body else None) or "resumed through the Keel API"
    return await _set_paused(state, schedule_id, False, note)


@router.post(
    "/{schedule_id}/trigger",
    status_code=202,
    response_model=ScheduleAccepted,
    summary="Start a run of a schedule now",
)
async def trigger(
    schedule_id: str, state: State, body: Annotated[TriggerIn | None, Body()] = None
) -> ScheduleAccepted:
    """Start one run now with the schedule's inputs (even when paused); it shows in ``/runs``."""
    overlap = (body or TriggerIn()).overlap
    async with state.database.session() as session:
        row = await _find(session, schedule_id)
    await _temporal(
        row, _handle(state, row).trigger(overlap=ScheduleOverlapPolicy[overlap.upper()])
    )
    return ScheduleAccepted(id=row.id, temporal_id=spec_of(row)[1], status="triggered")


@router.post(
    "/{schedule_id}/backfill",
    status_code=202,
    response_model=ScheduleAccepted,
    summary="Run a schedule for a past range",
    responses={422: {"description": "The range is empty or reversed."}},
)
async def backfill_range(schedule_id: str, body: BackfillIn, state: State) -> ScheduleAccepted:
    """Start a run for every time the schedule was due in ``[start, end)``."""
    try:
        request = backfill(body.start, body.end, body.overlap)
    except TriggerError as exc:
        raise ApiError(422, "; ".join(exc.problems), "end") from None
    async with state.database.session() as session:
        row = await _find(session, schedule_id)
    await _temporal(row, _handle(state, row).backfill(request))
    return ScheduleAccepted(id=row.id, temporal_id=spec_of(row)[1], status="backfilling")


@router.patch(
    "/{schedule_id}",
    response_model=ScheduleOut,
    summary="Change a schedule's timing or inputs",
    responses={422: {"description": "The changed args do not validate (every problem)."}},
)
async def patch(schedule_id: str, body: SchedulePatch, state: State) -> ScheduleOut:
    """Merge the changes into the trigger's args, validate them again, and apply them.

    The change lasts until the workflow is committed again (a commit applies its document).
    """
    changes: dict[str, Any] = to_jsonable_python(body.model_dump(exclude_unset=True))
    async with state.database.session() as session:
        row = await _find(session, schedule_id)
        ref, temporal_id, version, args = spec_of(row)
        if "cron" in changes:
            args = {k: v for k, v in args.items() if k not in ("every", "offset")}
        if "every" in changes:
            args.pop("cron", None)
        for name, value in changes.items():
            if value is None:
                args.pop(name, None)
            else:
                args[name] = value
        stored = (
            await workflows.get_version(session, row.workflow_id, version)
            if version is not None
            else await workflows.latest_version(session, row.workflow_id)
        )
        if stored is None:
            raise ApiError(409, f"workflow {row.workflow_id} has no committed version")
        workflow = Workflow.model_validate(stored.definition)
        try:
            planned = read_trigger(workflow, ref, temporal_id, args)
        except TriggerError as exc:
            problems = [{"field": p.partition(":")[0], "message": p} for p in exc.problems]
            raise ApiError(
                422,
                f"the changed args have {len(problems)} problem(s); nothing was changed",
                problems[0]["field"],
                problems=problems,
            ) from None
        row = await write_schedule(
            state,
            session,
            workflow_id=row.workflow_id,
            version=stored.version,
            workflow=workflow,
            trigger=planned,
            row=row,
            keep_pause=True,
        )
        return ScheduleOut.of(row)


async def _set_paused(
    state: ServiceState, schedule_id: str, paused: bool, note: str
) -> ScheduleOut:
    async with state.database.session() as session:
        row = await _find(session, schedule_id)
        handle = _handle(state, row)
        await _temporal(row, handle.pause(note=note) if paused else handle.unpause(note=note))
        row = await schedules.update_schedule(session, row.id, paused=paused)
        return ScheduleOut.of(row)


async def _find(session: AsyncSession, schedule_id: str) -> ScheduleRow:
    """Return the schedule named by Keel's id or by its Temporal id.

    Raises:
        NotFoundError: No schedule has that id.
    """
    if not schedule_id.startswith("sched-"):
        return await schedules.get_schedule(session, schedule_id)
    for row in await schedules.list_schedules(session):
        if spec_of(row)[1] == schedule_id:
            return row
    raise NotFoundError("schedule", schedule_id)


def _handle(state: ServiceState, row: ScheduleRow) -> ScheduleHandle:
    return state.temporal.get_schedule_handle(spec_of(row)[1])


async def _temporal(row: ScheduleRow, call: Awaitable[T]) -> T:
    """Await a Temporal call; a schedule Temporal lost is a clear 409, not a 500."""
    try:
        return await call
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(
                409,
                f"schedule {row.id} is not in Temporal; commit workflow {row.workflow_id} again "
                "to restore it",
            ) from exc
        raise
