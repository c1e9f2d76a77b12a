"""Reading a run back: its status, each action's attempts, timing, result and error, its timeline.

Temporal's history is the source of truth. A running run's per-action view comes from its
``progress`` and ``context`` queries, and a ``for_each`` action's items from its ``items`` query.
A closed run is read from its close event instead (:mod:`keel.orchestration.final_state`): no
replay, no worker needed; only runs whose close event carries no state (cancelled, terminated,
timed out, or closed by an older Keel) are asked through the queries, which a worker answers by
replaying the history. Every query is asked through :func:`keel.orchestration.queries.ask`: with
a deadline, and given up when the run closes meanwhile (the close event answers then), so a
reader never hangs on a worker that cannot answer. The timeline is read straight from the
history events. Results of
actions marked ``mask_output`` are replaced by :data:`MASK` here, and so is any value computed
from them (a ``for_each`` item's input, the run's result), so no API, CLI or console view shows
them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
)
from temporalio.service import RPCError, RPCStatusCode

from keel import expressions
from keel.dsl.model import Workflow
from keel.orchestration.client import original_request
from keel.orchestration.final_state import ClosedRun, read_closed
from keel.orchestration.payloads import (
    MAX_ITEMS_PER_QUERY,
    ActionState,
    ItemPage,
    ItemsQuery,
    ItemState,
    RunProgress,
)
from keel.orchestration.queries import RunClosedMeanwhile, RunNotAnsweringError, ask, is_closed

MASK = "***"


class _ClosedRuns:
    """What was read about closed runs, which cannot change any more: the newest few answers.

    Answering a query about a closed run makes a worker replay its whole history (seconds for a
    run with a thousand ``for_each`` items), so a page viewed again, or polled once more after
    the run ended, is answered from here. Keys include Temporal's run id, so a new run reusing
    an execution id is never answered with the old one's state.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable) -> object | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: object) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


#: Bounded by count: an entry holds one run's results, or one page of at most 500 items.
_CLOSED = _ClosedRuns(64)

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
    args: dict[str, Any] = field(default_factory=dict)
    for_each: bool = False
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
    input: Any = None
    result: Any = None
    definition: dict[str, Any] = field(default_factory=dict)
    notice: str | None = None


@dataclass
class ItemDetail:
    """One item of a ``for_each`` action (see :class:`~keel.orchestration.payloads.ItemState`)."""

    index: int
    status: str
    input: Any
    attempts: int
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    result: Any
    error: str | None


@dataclass
class ItemsDetail:
    """One page of a ``for_each`` action's items.

    Attributes:
        ref: The action.
        total: How many items match the status filter.
        counts: How many items the action has in each status.
        items: The page.
    """

    ref: str
    total: int
    counts: dict[str, int]
    items: list[ItemDetail]


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
    try:
        return await _describe(client, execution_id)
    except RunClosedMeanwhile:
        # It closed while its worker was being asked: its close event has the answer now.
        return await _describe(client, execution_id)


async def _describe(client: Client, execution_id: str) -> RunDetail:
    handle = client.get_workflow_handle(execution_id)
    description = await handle.describe()
    closed = is_closed(description.status)
    key = ("detail", execution_id, description.run_id)
    if closed and (cached := _CLOSED.get(key)) is not None:
        return cast(RunDetail, cached)
    # Independent reads, asked at once: a page polling a run waits for the slowest, not the sum.
    request, children, answers, ending = await asyncio.gather(
        original_request(client, execution_id),
        child_runs(client, execution_id),
        _live_answers(handle, closed),
        _ending(handle, closed),
    )
    if ending.state is not None:
        progress, context, notice = RunProgress(ending.state.actions), ending.context or {}, None
    elif answers is not None:
        progress, context, notice = answers
    else:  # closed, but its close event carries no state: ask (a worker replays the run)
        progress, context, notice = await _progress_and_context(handle, running=False)
    workflow = Workflow.model_validate(request.definition)
    status = STATUS.get(description.status, "unknown") if description.status else "unknown"
    states: dict[str, Any] = {a.ref: a for a in progress.actions}
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
                # The arguments as written (templates): a secret is a reference, never a value.
                args=dict(stmt.args),
                for_each=stmt.for_each is not None,
                streams=_streams(state, stmt.mask_output) if state else [],
            )
        )
    started = description.start_time.isoformat() if description.start_time else None
    ended = description.close_time.isoformat() if description.close_time else None
    error = next((a.error for a in actions if a.status == "failed" and a.error), None)
    final = None
    if description.status == WorkflowExecutionStatus.COMPLETED:
        final = _masked_result(workflow, ending.result)
    detail = RunDetail(
        input=request.trigger,
        result=final,
        definition=request.definition,
        parent_execution_id=request.parent.execution_id if request.parent else None,
        parent_action=request.parent.action if request.parent else None,
        child_runs=children,
        execution_id=execution_id,
        workflow_id=request.workflow_id,
        title=workflow.title,
        status=status,
        started_at=started,
        ended_at=ended,
        duration_ms=_ms(started, ended),
        actions=actions,
        error=error if status == "failed" else None,
        notice=notice,
    )
    # A detached child may still change; a closed run whose children all ended cannot.
    if closed and notice is None and all(c.status not in ("running", "starting") for c in children):
        _CLOSED.put(key, detail)
    return detail


async def _ending(handle: WorkflowHandle[Any, Any], closed: bool) -> ClosedRun:
    """Return what a closed run's close event says (nothing for a run still running)."""
    return await read_closed(handle) if closed else ClosedRun(None)


async def _live_answers(
    handle: WorkflowHandle[Any, Any], closed: bool
) -> tuple[RunProgress, dict[str, Any], str | None] | None:
    """Ask a running run's queries; None for a closed run (its close event is read first).

    Raises:
        RunClosedMeanwhile: It closed while being asked.
    """
    return None if closed else await _progress_and_context(handle, running=True)


async def _progress_and_context(
    handle: WorkflowHandle[Any, Any], *, running: bool
) -> tuple[RunProgress, dict[str, Any], str | None]:
    """Ask the run's ``progress`` and ``context`` queries.

    Returns:
        The answers and None; or, when no worker answers, no state and a notice that says why
        (the view still shows the run, its definition and its actions).

    Raises:
        RunClosedMeanwhile: The run closed while being asked (only when ``running``).
    """
    asking = (
        asyncio.ensure_future(ask(handle, "progress", result_type=RunProgress, running=running)),
        asyncio.ensure_future(ask(handle, "context", result_type=dict, running=running)),
    )
    try:
        progress, context = await asyncio.gather(*asking)
    except RunNotAnsweringError as exc:
        return RunProgress(), {}, f"actions' states unknown: {exc}"
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise
        return RunProgress(), {}, f"actions' states unknown: no worker answered ({exc.message})"
    finally:
        for task in asking:
            task.cancel()  # the other one, when one failed: it has nothing left to tell
    return progress, dict(context), None


async def action_items(
    client: Client,
    execution_id: str,
    ref: str,
    *,
    status: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> ItemsDetail:
    """Return one page of the items of the ``for_each`` action ``ref`` of a run.

    Raises:
        KeyError: The run has no action ``ref``, or it is not a ``for_each`` action.
        RunNotAnsweringError: No worker answered in time.
        RPCError: Temporal could not answer (no such run, or no worker to replay it).
    """
    try:
        return await _action_items(client, execution_id, ref, status, offset, limit)
    except RunClosedMeanwhile:
        # It closed while its worker was being asked: its close event has the answer now.
        return await _action_items(client, execution_id, ref, status, offset, limit)


async def _action_items(
    client: Client, execution_id: str, ref: str, status: str | None, offset: int, limit: int
) -> ItemsDetail:
    handle = client.get_workflow_handle(execution_id)
    description, request = await asyncio.gather(
        handle.describe(), original_request(client, execution_id)
    )
    workflow = Workflow.model_validate(request.definition)
    stmt = next((a for a in workflow.actions if a.ref == ref), None)
    if stmt is None or stmt.for_each is None:
        raise KeyError(ref)
    query = ItemsQuery(ref, status, offset, limit)
    if not is_closed(description.status):
        page = await ask(handle, "items", query, result_type=ItemPage)
    else:
        kept = await _closed_items(handle, description.run_id, ref)
        if kept is None:  # too many to keep: ask for just this page
            page = await ask(handle, "items", query, result_type=ItemPage, running=False)
        else:
            page = _page(kept, query)
    masked = {a.ref for a in workflow.actions if a.mask_output}
    hide_input = _reads_masked(stmt.for_each, masked)
    return ItemsDetail(
        ref=ref,
        total=page.total,
        counts=page.counts,
        items=[
            ItemDetail(
                index=item.index,
                status=item.status,
                input=MASK if hide_input else item.input,
                attempts=item.attempts,
                started_at=item.started_at,
                ended_at=item.ended_at,
                duration_ms=_ms(item.started_at, item.ended_at),
                result=MASK if stmt.mask_output and item.result is not None else item.result,
                error=item.error,
            )
            for item in page.items
        ],
    )


#: A closed action with at most this many items is read whole once and paged from memory.
MAX_KEPT_ITEMS = 5000


async def _closed_items(
    handle: WorkflowHandle[Any, Any], run_id: str | None, ref: str
) -> list[ItemState] | None:
    """Return every item of ``ref`` of a closed run: from its close event, else by its queries.

    Each query of a closed run costs a whole replay, so what they answer is kept.

    Returns None when the action has more than :data:`MAX_KEPT_ITEMS` items.
    """
    key = ("items", handle.id, run_id, ref)
    if isinstance(kept := _CLOSED.get(key), list):
        return cast(list[ItemState], kept)
    ending = await read_closed(handle)
    if ending.state is not None:
        if ref in ending.state.omitted:
            return None  # too many to carry: page through the query
        # Absent: the run ended before the action started.
        kept = ending.state.items.get(ref, [])
        _CLOSED.put(key, kept)
        return kept
    step = MAX_ITEMS_PER_QUERY
    first = await ask(
        handle, "items", ItemsQuery(ref, None, 0, step), result_type=ItemPage, running=False
    )
    if first.total > MAX_KEPT_ITEMS:
        return None
    rest = await asyncio.gather(
        *(
            ask(
                handle,
                "items",
                ItemsQuery(ref, None, start, step),
                result_type=ItemPage,
                running=False,
            )
            for start in range(step, first.total, step)
        )
    )
    items: list[ItemState] = [*first.items]
    for page in rest:
        items.extend(page.items)
    _CLOSED.put(key, items)
    return items


def _page(items: list[ItemState], query: ItemsQuery) -> ItemPage:
    """Return one page of ``items`` as the workflow's ``items`` query would."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status] = counts.get(item.status, 0) + 1
    chosen = [i for i in items if query.status is None or i.status == query.status]
    return ItemPage(len(chosen), counts, chosen[query.offset : query.offset + query.limit])


def _masked_result(workflow: Workflow, result: Any) -> Any:
    """Return a run's result with what ``mask_output`` actions produced replaced by the mask."""
    masked = {a.ref for a in workflow.actions if a.mask_output}
    if not masked:
        return result
    if workflow.returns is None:  # the whole context: mask the masked actions' entries
        if isinstance(result, dict) and isinstance(result.get("ACTIONS"), dict):
            actions = dict(result["ACTIONS"])
            for ref in masked & actions.keys():
                entry = actions[ref]
                if isinstance(entry, dict) and entry.get("result") is not None:
                    actions[ref] = {**entry, "result": MASK}
            return {**result, "ACTIONS": actions}
        return result
    return MASK if _reads_masked(workflow.returns, masked) else result


def _reads_masked(template: Any, masked: set[str]) -> bool:
    """Return whether any expression in ``template`` reads a masked action's result."""
    if not masked:
        return False
    if isinstance(template, str):
        return bool(expressions.references(template).actions & masked)
    if isinstance(template, dict):
        return any(_reads_masked(v, masked) for v in template.values())
    if isinstance(template, list):
        return any(_reads_masked(v, masked) for v in template)
    return False


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
            # Child ids are `<parent>--<ref>`, then `.<stream>` inside a region, then `-<item>`
            # for a for_each (refs have no dashes or dots; keel.orchestration.children).
            suffix = child_id.removeprefix(f"{execution_id}--")
            action = (
                "error_handler"
                if suffix == "error-handler"
                else suffix.split("-", 1)[0].split(".", 1)[0]
            )
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
