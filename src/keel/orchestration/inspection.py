"""Reading a run back: its status, each action's attempts, timing, result and error, its timeline.

Temporal's history is the source of truth. The per-action view comes from the run's ``progress``
and ``context`` queries, which Temporal answers for finished runs too, by replaying the history on
a worker; the timeline is read straight from the history events. Results of actions marked
``mask_output`` are replaced by :data:`MASK` here, so no API or CLI view shows them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistoryEventFilterType
from temporalio.service import RPCError

from keel.dsl.model import Workflow
from keel.orchestration.client import original_request
from keel.orchestration.payloads import ActionState, RunProgress

MASK = "***"

STATUS = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "succeeded",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "continued",
}


@dataclass
class StreamDetail:
    """One item or pass of an action inside a scatter or loop region."""

    stream: str
    status: str
    attempts: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    result: Any = None
    error: str | None = None
    events: list[str] = field(default_factory=list)


@dataclass
class ActionDetail:
    """One action of a run, as the API and ``keel runs show`` present it."""

    ref: str
    action: str
    status: str
    attempts: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: float | None = None
    result: Any = None
    error: str | None = None
    events: list[str] = field(default_factory=list)
    streams: list[StreamDetail] = field(default_factory=list)


@dataclass
class ChildRun:
    """A child run started by one of a run's actions, with its status."""

    execution_id: str
    action: str
    status: str


@dataclass
class RunDetail:
    """A run with its actions and its lineage (parent run and action; child runs)."""

    execution_id: str
    workflow_id: str
    title: str
    status: str
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    actions: list[ActionDetail]
    error: str | None = None
    parent_execution_id: str | None = None
    parent_action: str | None = None
    child_runs: list[ChildRun] = field(default_factory=list)


@dataclass(frozen=True)
class RunState:
    """Where a run stands, cheaply (no query, no full history): for refreshing summaries.

    Attributes:
        status: ``running``, ``succeeded``, ``failed``, ``cancelled``, ``terminated``,
            ``timed_out`` (see :data:`STATUS`).
        ended_at: When it closed, if it did.
        error: The failure message of a failed run.
    """

    status: str
    ended_at: datetime | None = None
    error: str | None = None


@dataclass
class TimelineEvent:
    """One entry of a run's event timeline."""

    time: str
    kind: str
    detail: str = ""


async def describe_run(client: Client, execution_id: str) -> RunDetail:
    """Return the run's status and per-action details."""
    handle = client.get_workflow_handle(execution_id)
    description = await handle.describe()
    request = await original_request(client, execution_id)
    workflow = Workflow.model_validate(request.definition)
    status = STATUS.get(description.status, "unknown") if description.status else "unknown"
    states: dict[str, Any] = {}
    context: dict[str, Any] = {}
    try:
        progress = await handle.query("progress", result_type=RunProgress)
        states = {a.ref: a for a in progress.actions}
        context = await handle.query("context", result_type=dict)
    except RPCError:
        pass  # no worker to answer: show the definition's actions without their state
    actions = []
    for stmt in workflow.actions:
        state = states.get(stmt.ref)
        entry = context.get("ACTIONS", {}).get(stmt.ref, {})
        result = entry.get("result")
        actions.append(
            ActionDetail(
                ref=stmt.ref,
                action=stmt.action,
                status=state.status if state else "unknown",
                attempts=state.attempts if state else 0,
                started_at=state.started_at if state else None,
                ended_at=state.ended_at if state else None,
                duration_ms=_ms(state.started_at, state.ended_at) if state else None,
                result=MASK if stmt.mask_output and result is not None else result,
                error=state.error if state else None,
                events=[e.message for e in state.events] if state else [],
                streams=_streams(state, stmt.mask_output) if state else [],
            )
        )
    started = description.start_time.isoformat() if description.start_time else None
    ended = description.close_time.isoformat() if description.close_time else None
    error = next((a.error for a in actions if a.status == "failed" and a.error), None)
    return RunDetail(
        parent_execution_id=request.parent.execution_id if request.parent else None,
        parent_action=request.parent.action if request.parent else None,
        child_runs=await child_runs(client, execution_id),
        execution_id=execution_id,
        workflow_id=request.workflow_id,
        title=workflow.title,
        status=status,
        started_at=started,
        ended_at=ended,
        duration_ms=_ms(started, ended),
        actions=actions,
        error=error if status == "failed" else None,
    )


async def run_state(client: Client, execution_id: str) -> RunState:
    """Return a run's status (one ``describe``; a failed run's close event for its error)."""
    handle = client.get_workflow_handle(execution_id)
    description = await handle.describe()
    status = STATUS.get(description.status, "unknown") if description.status else "unknown"
    error = None
    if status == "failed":
        async for event in handle.fetch_history_events(
            event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
        ):
            if event.HasField("workflow_execution_failed_event_attributes"):
                error = event.workflow_execution_failed_event_attributes.failure.message
    return RunState(status, description.close_time, error)


async def run_timeline(client: Client, execution_id: str) -> list[TimelineEvent]:
    """Return the run's events in order: start, each activity/timer, the end."""
    history = await client.get_workflow_handle(execution_id).fetch_history()
    scheduled: dict[int, str] = {}
    timeline = []
    for event in history.events:
        when = event.event_time.ToDatetime().isoformat() + "Z"
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
        detail = ""
        if event.HasField("activity_task_scheduled_event_attributes"):
            detail = event.activity_task_scheduled_event_attributes.activity_id
            scheduled[event.event_id] = detail
        elif event.HasField("activity_task_completed_event_attributes"):
            detail = scheduled.get(
                event.activity_task_completed_event_attributes.scheduled_event_id, ""
            )
        elif event.HasField("activity_task_failed_event_attributes"):
            attrs = event.activity_task_failed_event_attributes
            detail = f"{scheduled.get(attrs.scheduled_event_id, '')}: {attrs.failure.message}"
        elif event.HasField("marker_recorded_event_attributes"):
            detail = _marker_activity(event.marker_recorded_event_attributes)
            kind = "local_activity_completed"
        elif event.HasField("timer_started_event_attributes"):
            timeout = event.timer_started_event_attributes.start_to_fire_timeout
            detail = f"{timeout.ToTimedelta().total_seconds():g} s"
        elif event.HasField("workflow_execution_failed_event_attributes"):
            detail = event.workflow_execution_failed_event_attributes.failure.message
        elif kind.startswith("workflow_task"):
            continue  # bookkeeping of Temporal itself, not of the run
        timeline.append(TimelineEvent(when, kind, detail))
    return timeline


_CHILD_STARTED = "child_workflow_execution_started_event_attributes"
#: How a child run ended, by the history event that records it.
_CHILD_END = {
    "child_workflow_execution_completed_event_attributes": "succeeded",
    "child_workflow_execution_failed_event_attributes": "failed",
    "child_workflow_execution_canceled_event_attributes": "cancelled",
    "child_workflow_execution_terminated_event_attributes": "terminated",
    "child_workflow_execution_timed_out_event_attributes": "timed_out",
}


async def child_runs(client: Client, execution_id: str) -> list[ChildRun]:
    """Return the child runs a run started (from its history), each with its status.

    A child the run waited for has its end in the parent's history; a detached child's status is
    asked of Temporal.
    """
    history = await client.get_workflow_handle(execution_id).fetch_history()
    initiated: dict[int, str] = {}
    children: dict[str, ChildRun] = {}
    for event in history.events:
        if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
            child_id = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            initiated[event.event_id] = child_id
            # Child ids are `<parent>--<ref>` or `<parent>--<ref>-<item>` (refs have no dashes).
            suffix = child_id.removeprefix(f"{execution_id}--")
            action = "error_handler" if suffix == "error-handler" else suffix.split("-", 1)[0]
            children[child_id] = ChildRun(child_id, action, "starting")
            continue
        kind = event.WhichOneof("attributes") or ""
        status = "running" if kind == _CHILD_STARTED else _CHILD_END.get(kind)
        if status is not None:
            child_id = initiated.get(getattr(event, kind).initiated_event_id, "")
            if child_id in children:
                children[child_id].status = status
    for child in children.values():
        if child.status == "running":  # detached, or still going: ask Temporal
            with contextlib.suppress(RPCError):
                described = await client.get_workflow_handle(child.execution_id).describe()
                if described.status is not None:
                    child.status = STATUS.get(described.status, child.status)
    return list(children.values())


def _streams(state: ActionState, masked: bool) -> list[StreamDetail]:
    """Return an action's per-item/per-pass entries (results masked like the action's own)."""
    return [
        StreamDetail(
            stream=s.stream,
            status=s.status,
            attempts=s.attempts,
            started_at=s.started_at,
            ended_at=s.ended_at,
            result=MASK if masked and s.result is not None else s.result,
            error=s.error,
            events=[e.message for e in s.events],
        )
        for s in state.streams
    ]


def _marker_activity(attrs: Any) -> str:
    """Return the activity id a local-activity marker records (``ref#attempt``)."""
    import json

    data = attrs.details.get("data")
    if data is None or not data.payloads:
        return ""
    try:
        meta = json.loads(data.payloads[0].data)
    except ValueError:
        return ""
    return str(meta.get("activity_id", "")) if isinstance(meta, dict) else ""


def _ms(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return round(delta.total_seconds() * 1000, 3)
