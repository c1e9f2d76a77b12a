"""Runs: start one (``POST /workflows/{id}/runs``), list, inspect, cancel, terminate, re-run.

A run accepted by a plain webhook delivery is ``queued`` until the relay has started it in
Temporal (:mod:`keel.api.outbox`; usually milliseconds, longer while Temporal is unreachable).
Such a run is listed and inspected from the store (its definition, input and pending actions);
cancelling or terminating it is refused with a 409 until it has started (it is not in Temporal
yet, and the relay may be starting it at that moment).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError, RPCStatusCode

from keel.api.deps import get_state
from keel.api.errors import ApiError
from keel.api.launcher import launch, runnable
from keel.api.run_sync import refresh_rows, refresh_running, temporal_state
from keel.api.schemas import MAX_STORED_INT
from keel.api.schemas.runs import (
    ActionDetailOut,
    DagOut,
    ItemOut,
    ItemPageOut,
    ItemStatus,
    RunActionOut,
    RunDetailOut,
    RunIn,
    RunPageOut,
    RunStarted,
    RunSummary,
    TimelineEventOut,
)
from keel.api.state import ServiceState
from keel.dsl.diagram import diagram
from keel.dsl.model import Workflow
from keel.errors import InvalidCursorError, NotFoundError
from keel.orchestration.client import rerun_from_failure
from keel.orchestration.inspection import action_items, describe_run, run_timeline
from keel.orchestration.payloads import MAX_ITEMS_PER_QUERY
from keel.orchestration.queries import RunNotAnsweringError
from keel.store import outbox, runs, workflows
from keel.store.outbox import Accepted
from keel.store.runs import MAX_PAGE_SIZE, RunStatus, TriggerType
from keel.store.tables import RunRow

T = TypeVar("T")

router = APIRouter(tags=["runs"])

State = Annotated[ServiceState, Depends(get_state)]


@router.post(
    "/workflows/{ref}/runs",
    status_code=202,
    response_model=RunStarted,
    summary="Start a run of a workflow",
    responses={422: {"description": "The inputs do not match entrypoint.expects."}},
)
async def start(ref: str, state: State, body: Annotated[RunIn | None, Body()] = None) -> RunStarted:
    """Start a run of the latest committed version (or ``version``, or the draft)."""
    body = body or RunIn()
    launched = await launch(
        state,
        ref,
        inputs=body.inputs,
        version=body.version,
        draft=body.draft,
        environment=body.environment,
    )
    return RunStarted(**dataclasses.asdict(launched))


@router.get("/runs", response_model=RunPageOut, summary="List runs, newest first")
async def list_runs(
    state: State,
    workflow: Annotated[str | None, Query(description="A workflow id or alias.")] = None,
    status: Annotated[RunStatus | None, Query()] = None,
    trigger: Annotated[TriggerType | None, Query(description="How the runs started.")] = None,
    started_after: Annotated[datetime | None, Query(description="ISO time, inclusive.")] = None,
    started_before: Annotated[datetime | None, Query(description="ISO time, exclusive.")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> RunPageOut:
    """Return a page of runs; statuses of unfinished runs are refreshed from Temporal first."""
    async with state.database.session() as session:
        workflow_id = None
        if workflow is not None:
            found = await workflows.find_workflow(session, workflow)
            workflow_id = found.id if found is not None else workflow
        await refresh_running(state, session, workflow_id)
        try:
            page = await runs.list_runs(
                session,
                workflow_id=workflow_id,
                status=status,
                started_after=_aware(started_after),
                started_before=_aware(started_before),
                limit=limit,
                cursor=cursor,
                trigger_type=trigger,
            )
        except InvalidCursorError as exc:
            raise ApiError(400, str(exc), "cursor") from exc
        await refresh_rows(state, session, page.runs)
        items = [RunSummary.of(row) for row in page.runs]
    return RunPageOut(items=items, next_cursor=page.next_cursor)


@router.get("/runs/{execution_id}", response_model=RunDetailOut, summary="Inspect a run")
async def get_run(execution_id: str, state: State) -> RunDetailOut:
    """Return a run's status, each action's attempts, timing, result and error, and lineage."""
    async with state.database.session() as session:
        row = await _find_row(session, execution_id)
        if row is not None and row.status == "queued":
            entry = await outbox.find(session, execution_id)
            if entry is not None:
                return await _queued_detail(session, row, entry)
        detail = await _temporal(execution_id, describe_run(state.temporal, execution_id))
        children: list[str] = []
        if row is not None:
            await refresh_rows(state, session, [row])
            children = [c.execution_id for c in await runs.child_runs(session, execution_id)]
    data = dataclasses.asdict(detail)
    parent = data.pop("parent_execution_id")
    lineage = [c["execution_id"] for c in data["child_runs"]]
    return RunDetailOut(
        **data,
        dag=DagOut.of(diagram(Workflow.model_validate(detail.definition))),
        version=row.version if row else None,
        trigger_type=row.trigger_type if row else None,
        parent=(row.parent_execution_id if row else None) or parent,
        children=sorted(set(children) | set(lineage)),
    )


@router.get(
    "/runs/{execution_id}/actions/{ref}/items",
    response_model=ItemPageOut,
    summary="A for_each action's items, paged",
    responses={
        404: {"description": "No such run, or no for_each action with that ref."},
        503: {"description": "The run's worker did not answer in time."},
    },
)
async def items(
    execution_id: str,
    ref: str,
    state: State,
    status: Annotated[ItemStatus | None, Query(description="Only items in this status.")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_STORED_INT)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_ITEMS_PER_QUERY)] = 100,
) -> ItemPageOut:
    """Return each item's status, input (loop variables), attempts, timing, result and error."""
    try:
        page = await _temporal(
            execution_id,
            action_items(
                state.temporal, execution_id, ref, status=status, offset=offset, limit=limit
            ),
        )
    except KeyError as exc:
        raise ApiError(404, f"run {execution_id} has no for_each action '{ref}'", "ref") from exc
    end = offset + len(page.items)
    return ItemPageOut(
        ref=ref,
        total=page.total,
        counts=page.counts,
        offset=offset,
        items=[ItemOut(**dataclasses.asdict(i)) for i in page.items],
        next_offset=end if end < page.total else None,
    )


@router.get(
    "/runs/{execution_id}/events",
    response_model=list[TimelineEventOut],
    summary="A run's event timeline",
)
async def events(execution_id: str, state: State) -> list[TimelineEventOut]:
    """Return the run's events in order: start, each activity and timer, the end.

    A ``queued`` run (accepted, not started in Temporal yet) has none yet.
    """
    if await _queued(state, execution_id):
        return []
    timeline = await _temporal(execution_id, run_timeline(state.temporal, execution_id))
    return [TimelineEventOut(**dataclasses.asdict(e)) for e in timeline]


@router.post(
    "/runs/{execution_id}/cancel",
    status_code=202,
    response_model=RunActionOut,
    summary="Ask a running run to cancel",
)
async def cancel(execution_id: str, state: State) -> RunActionOut:
    """Request cancellation; the run stops at its next step (its actions see a cancellation)."""
    await _require_running(state, execution_id, "cancel")
    handle = state.temporal.get_workflow_handle(execution_id)
    await _temporal(execution_id, handle.cancel())
    return RunActionOut(execution_id=execution_id, status="cancelling")


@router.post(
    "/runs/{execution_id}/terminate",
    response_model=RunActionOut,
    summary="Stop a running run at once",
)
async def terminate(
    execution_id: str,
    state: State,
    reason: Annotated[str, Query(max_length=1000)] = "terminated through the API",
) -> RunActionOut:
    """Terminate the run now (no cleanup runs); its summary says ``terminated``."""
    await _require_running(state, execution_id, "terminate")
    handle = state.temporal.get_workflow_handle(execution_id)
    await _temporal(execution_id, handle.terminate(reason=reason))
    async with state.database.session() as session:
        if await _find_row(session, execution_id) is not None:
            await runs.update_run_status(session, execution_id, "terminated", error=reason)
    return RunActionOut(execution_id=execution_id, status="terminated")


@router.post(
    "/runs/{execution_id}/rerun",
    status_code=202,
    response_model=RunActionOut,
    summary="Re-run a failed run from its failed action",
    responses={409: {"description": "The run is not failed."}},
)
async def rerun(execution_id: str, state: State) -> RunActionOut:
    """Start a new run that reuses the results of the actions that succeeded."""
    current = await temporal_state(state, execution_id)
    if current is None:
        raise NotFoundError("run", execution_id)
    if current.status != "failed":
        raise ApiError(
            409, f"run {execution_id} is {current.status}; only a failed run can be re-run"
        )
    async with state.database.session() as session:
        row = await _find_row(session, execution_id)
        started = await _temporal(
            execution_id,
            rerun_from_failure(state.temporal, execution_id, task_queue=state.task_queue),
        )
        await runs.record_run_start(
            session,
            started.execution_id,
            workflow_id=row.workflow_id if row else None,
            version=row.version if row else None,
            trigger_type="api",
        )
    return RunActionOut(execution_id=started.execution_id, status="running", rerun_of=execution_id)


async def _require_running(
    state: ServiceState, execution_id: str, verb: Literal["cancel", "terminate"]
) -> None:
    current = await temporal_state(state, execution_id)
    if current is None:
        if await _queued(state, execution_id):
            raise ApiError(
                409,
                f"run {execution_id} is queued: accepted, but not started in Temporal yet; "
                f"{verb} it once it has started (GET /runs/{execution_id} says running)",
            )
        raise NotFoundError("run", execution_id)
    if current.status != "running":
        raise ApiError(409, f"run {execution_id} is {current.status}; cannot {verb} it")


async def _queued(state: ServiceState, execution_id: str) -> bool:
    """Return whether the run is accepted and still waits in the outbox for its start."""
    async with state.database.session() as session:
        return await outbox.find(session, execution_id) is not None


async def _queued_detail(session: AsyncSession, row: RunRow, entry: Accepted) -> RunDetailOut:
    """Return the detail of a run that waits in the outbox: from the store, nothing run yet."""
    try:
        stored = await workflows.get_version(session, entry.workflow_id, entry.version)
    except NotFoundError:  # deleted meanwhile: the relay will mark the run failed
        definition: dict[str, object] = {}
        workflow = None
    else:
        target = runnable(entry.workflow_id, entry.version, dict(stored.definition))
        definition, workflow = target.document, target.workflow
    actions = [
        ActionDetailOut(
            ref=stmt.ref,
            action=stmt.action,
            status="pending",
            attempts=0,
            started_at=None,
            ended_at=None,
            duration_ms=None,
            result=None,
            error=None,
            events=[],
            args=dict(stmt.args),
            for_each=stmt.for_each is not None,
        )
        for stmt in (workflow.actions if workflow else [])
    ]
    return RunDetailOut(
        execution_id=row.execution_id,
        workflow_id=row.workflow_id,
        version=row.version,
        title=(workflow.title or "") if workflow else "",
        trigger_type=row.trigger_type,
        status="queued",
        started_at=row.started_at.isoformat(),
        ended_at=None,
        duration_ms=None,
        error=None,
        actions=actions,
        input=entry.trigger,
        definition=dict(definition),
        dag=DagOut.of(diagram(workflow)) if workflow else DagOut(),
        notice="accepted: waiting for its start in Temporal (it starts in moments, or as soon "
        "as Temporal is reachable again)",
    )


async def _find_row(session: AsyncSession, execution_id: str) -> RunRow | None:
    try:
        return await runs.get_run(session, execution_id)
    except NotFoundError:
        return None


async def _temporal(execution_id: str, call: Awaitable[T]) -> T:
    """Await a Temporal call; a run Temporal does not know is a 404, not a 500.

    A run whose worker does not answer a query in time is a 503 that says so, not a hang.
    """
    try:
        return await call
    except RunNotAnsweringError as exc:
        raise ApiError(503, str(exc)) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NotFoundError("run", execution_id) from exc
        raise


def _aware(value: datetime | None) -> datetime | None:
    """Read a time without a zone as UTC (the store refuses naive times)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
