"""The data that crosses Temporal's boundary: workflow input, activity input and output.

Frozen dataclasses only (Temporal's default JSON converter round-trips them), one argument per
workflow and activity, so a payload can gain fields without breaking running histories.
Secrets never appear here: templates that read ``SECRETS`` travel unevaluated
(:class:`DeferredArg`) and are resolved inside the activity.

Unlike the rest of Keel, this module does not postpone its annotations (no
``from __future__ import annotations``): Temporal's converter calls ``typing.get_type_hints`` on
a dataclass every time it decodes one, and with postponed annotations that compiles and evaluates
every field's annotation string again, for every run's input in the sandbox (~0.4 ms of the
API process's CPU per webhook run). Real annotations make that lookup cheap. A class used in an
annotation must therefore be defined above its first use.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

WORKFLOW_NAME = "keel.run"
RUN_ACTION = "keel.run_action"
RESOLVE_WORKFLOW = "keel.resolve_workflow"
RESOLVE_INSTANT = "keel.resolve_instant"
LOAD_VARIABLES = "keel.load_variables"


@dataclass(frozen=True)
class ParentLink:
    """Where a child run comes from (its lineage).

    Attributes:
        execution_id: The parent run's execution id.
        workflow_id: The parent's Keel workflow id.
        action: The parent's action ref that started this run.
    """

    execution_id: str
    workflow_id: str
    action: str


@dataclass(frozen=True)
class RelaySpec:
    """A slice of a large child fan-out, run by an intermediate ("relay") run.

    One run starting thousands of children would carry every child's start and end events in its
    own history (Temporal caps a history at about 50,000 events). Past a threshold, the fan-out
    is split into relay runs of the same workflow type, each starting one slice of the children.

    Attributes:
        statement: The ``core.workflow.execute`` statement (``ActionStatement`` JSON).
        calls: The evaluated arguments of each call in the slice.
        offset: The index of the slice's first call in the whole fan-out.
        inherited: The context the original parent passes down with ``inherit``.
    """

    statement: dict[str, Any]
    calls: list[dict[str, Any]]
    offset: int = 0
    inherited: dict[str, Any] | None = None


@dataclass(frozen=True)
class StreamRelaySpec:
    """A slice of a large scatter's items, run by a relay run of the same workflow.

    One run walking thousands of streams would record every stream's activity calls in its own
    history; past a threshold the items are split into relay runs, each walking one slice of
    streams and answering one :class:`StreamReport` per item.

    Attributes:
        opener: The scatter's ref.
        items: The slice's items.
        offset: The index of the slice's first item in the whole collection.
        stream: The stream around the scatter in the run that relays (empty at its top).
        actions: ``ACTIONS`` as the scatter saw them: what the region's expressions may read.
        env: ``ENV`` of the run that relays (its streams see that run's metadata).
    """

    opener: str
    items: list[Any]
    offset: int = 0
    stream: str = ""
    actions: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRequest:
    """Input of one Keel run.

    Attributes:
        definition: The validated workflow document, as JSON data (``Workflow.model_dump``).
        trigger: The trigger input (``TRIGGER``), already checked against ``expects``.
        workflow_id: Keel's id of the workflow (or its file/alias for ad-hoc runs).
        environment: Overrides ``config.environment`` for this run when set.
        completed: Results of actions that already succeeded in an earlier run (by ref): a
            re-run from a failed action treats them as done and starts after them.
        variables: ``VARS``: workspace variables (name -> key -> value), resolved by the caller
            when it starts the run (they are not secret, so they may live in history).
        load_variables: Ignore ``variables`` and load ``VARS`` of the run's environment when
            the run starts (scheduled runs: their request is written long before they fire).
        streams: Set for a relay run of a large scatter: the slice of streams it walks.
        definition_key: A name for ``definition`` that never names another one (a committed
            version, ``wf_x@3``): workers keep the parsed definition by it and skip validating
            it again. ``None`` (drafts, files, children) validates every time.
        actions_queue: Where this run's activities execute: ``None`` as local activities of the
            worker that runs the workflow task; a task queue's name as regular activities on
            that queue (runs an API process starts and orchestrates: only workers poll it).
            Children and relays inherit it (:mod:`keel.orchestration.placement`).
    """

    definition: dict[str, Any]
    trigger: Any = None
    workflow_id: str = ""
    environment: str | None = None
    completed: dict[str, Any] = field(default_factory=dict)
    parent: ParentLink | None = None
    parent_context: dict[str, Any] | None = None
    is_error_handler: bool = False
    relay: RelaySpec | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    load_variables: bool = False
    streams: StreamRelaySpec | None = None
    definition_key: str | None = None
    actions_queue: str | None = None


def request_json(request: RunRequest) -> dict[str, Any]:
    """Return ``request`` as the JSON data Temporal's converter would write for it.

    Starting a run hands this to Temporal instead of the dataclass: the converter's
    ``dataclasses.asdict`` would deep-copy the whole definition and trigger just to serialise
    the copy. The JSON written is the same, field for field.
    """
    data = _flat(request)
    for name in ("parent", "relay", "streams"):  # the fields that hold dataclasses
        if data[name] is not None:
            data[name] = asdict(data[name])
    return data


@dataclass(frozen=True)
class DeferredArg:
    """An argument template that reads ``SECRETS``, evaluated inside the activity.

    Attributes:
        path: Where the value goes inside ``args`` (keys and list indexes).
        template: The template text, unevaluated.
    """

    path: list[str | int]
    template: str


@dataclass(frozen=True)
class ActionTask:
    """Input of the ``keel.run_action`` activity: one attempt of one action call.

    Attributes:
        ref: The action's ref (for logs and errors).
        action: The registered action name.
        args: The evaluated arguments (deferred ones are filled in by the activity).
        deferred: Templates to evaluate in the activity, where secrets can be read.
        context: The part of the run context the deferred templates need (never secrets).
        environment: The secrets environment.
        timeout: Seconds this attempt may take.
        attempt: 1-based attempt number.
        workflow_id: The Keel workflow the run belongs to (the scope of the keys that
            ``core.transform.deduplicate`` remembers).
    """

    ref: str
    action: str
    args: dict[str, Any]
    deferred: list[DeferredArg] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    environment: str = "default"
    timeout: float = 300.0
    attempt: int = 1
    workflow_id: str = ""


def task_json(task: ActionTask) -> dict[str, Any]:
    """Return ``task`` as the JSON data Temporal's converter would write for it.

    The workflow schedules an action's activity with this instead of the dataclass: the
    converter's ``dataclasses.asdict`` would deep-copy the evaluated arguments only to
    serialise the copy (measured ~0.3 ms of workflow CPU per step of the I/O chain). The JSON
    written is the same, field for field.
    """
    data = _flat(task)
    data["deferred"] = [_flat(deferred) for deferred in task.deferred]
    return data


@dataclass(frozen=True)
class ActionResult:
    """Output of the ``keel.run_action`` activity.

    Attributes:
        ok: Whether the call succeeded.
        result: The action's return value when it succeeded.
        error_type: The failure's type name (an exception class name) when it failed.
        error_message: What went wrong.
        retryable: Whether another attempt could succeed (bad arguments cannot).
    """

    ok: bool
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    retryable: bool = True


@dataclass(frozen=True)
class ActionEvent:
    """A note about an action for the run's visibility (e.g. a path that matched nothing).

    Attributes:
        kind: ``warning`` or ``info``.
        message: The note.
    """

    kind: str
    message: str


@dataclass
class StreamState:
    """One run of an action inside a region: for one scatter item or one loop pass.

    Attributes:
        stream: Which item or pass: ``scatter_ref[2]`` for item 2, ``loop_ref#3`` for pass 3;
            nested regions join their parts with ``/`` (``outer[0]/inner[1]``).
        status: ``running``, ``succeeded``, ``failed`` or ``skipped``.
        attempts: Attempts made.
        started_at: ISO time it started, if it did.
        ended_at: ISO time it ended, if it did.
        error: The failure message, if it failed.
        result: Its result in that stream, if it succeeded.
        events: Warnings and notes.
    """

    stream: str
    status: str = "running"
    attempts: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    error: str | None = None
    result: Any = None
    events: list[ActionEvent] = field(default_factory=list)


@dataclass
class ActionState:
    """What the run knows about one action, returned by the ``progress`` query.

    Attributes:
        ref: The action ref.
        status: ``pending``, ``running``, ``succeeded``, ``failed`` or ``skipped``.
        attempts: Attempts made so far (for ``for_each``, the most any item needed).
        started_at: ISO time the action started, if it did.
        ended_at: ISO time it ended, if it did.
        error: The failure message, if it failed.
        events: Warnings and notes gathered while it ran.
        streams: For an action inside a scatter or loop region: one entry per item or pass.
    """

    ref: str
    status: str = "pending"
    attempts: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    error: str | None = None
    events: list[ActionEvent] = field(default_factory=list)
    streams: list[StreamState] = field(default_factory=list)


@dataclass
class RunProgress:
    """The answer of the workflow's ``progress`` query.

    Attributes:
        actions: One state per action, in document order.
    """

    actions: list[ActionState] = field(default_factory=list)


@dataclass
class ItemState:
    """One item of a ``for_each`` action, answered by the workflow's ``items`` query.

    Attributes:
        index: The item's position in the ``for_each`` list.
        status: ``queued``, ``running``, ``succeeded``, ``failed`` or ``cancelled`` (an item
            still queued or running when another item failed the action).
        input: The item's loop variables (``var.<name>`` -> value).
        attempts: Attempts made so far.
        started_at: ISO time its first attempt started, if it did.
        ended_at: ISO time it ended, if it did.
        result: Its result, when it succeeded.
        error: Its failure (``Type: message``), when it failed.
    """

    index: int
    status: str = "queued"
    input: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    started_at: str | None = None
    ended_at: str | None = None
    result: Any = None
    error: str | None = None


#: The most ``for_each`` items one ``items`` query answers (bounds the answer's size).
MAX_ITEMS_PER_QUERY = 500


@dataclass(frozen=True)
class ItemsQuery:
    """Input of the ``items`` query: one page of one ``for_each`` action's items.

    Attributes:
        ref: The action ref.
        status: Only items with this status, when set.
        offset: How many (matching) items to skip.
        limit: At most this many items.
    """

    ref: str
    status: str | None = None
    offset: int = 0
    limit: int = 100


@dataclass
class ItemPage:
    """The answer of the ``items`` query.

    Attributes:
        total: How many items match the query (before paging).
        counts: How many items the action has in each status (all items, not only the page).
        items: The page, in item order.
    """

    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    items: list[ItemState] = field(default_factory=list)


#: The most items of one ``for_each`` action a run's :class:`FinalState` keeps; an action with
#: more is left out (read through the ``items`` query instead), so the state stays bounded.
MAX_FINAL_ITEMS = 5000
#: The keys of the value a Keel run returns to Temporal (see :func:`final_payload`).
FINAL_RESULT = "keel_result"
FINAL_STATE = "keel_state"


@dataclass
class FinalState:
    """Keel's view of a run as it ended, carried by its last history event.

    A closed run answers queries only by a worker replaying its whole history (seconds for a
    large fan-out, never without a worker). So a run that completes returns this next to its
    result (:func:`final_payload`) and a run that fails carries it as its failure's details;
    readers take it from the close event. Large states leave the history through external
    storage like any other payload.

    Attributes:
        actions: Every action's state, in document order (as the ``progress`` query answers).
        items: Each ``for_each`` action's items (as the ``items`` query answers), for actions
            with at most :data:`MAX_FINAL_ITEMS` items.
        omitted: ``for_each`` actions whose items were too many to keep here.
        context: ``ACTIONS`` and ``TRIGGER`` as the ``context`` query answers; None when the
            run's result is that context already (a workflow without ``returns``).
    """

    actions: list[ActionState] = field(default_factory=list)
    items: dict[str, list[ItemState]] = field(default_factory=dict)
    omitted: list[str] = field(default_factory=list)
    context: dict[str, Any] | None = None


def final_payload(result: Any, state: FinalState) -> dict[str, Any]:
    """Return what a completed run hands to Temporal: its result and its :class:`FinalState`.

    The state goes as plain JSON data (:func:`state_json`), the same JSON the converter would
    write for the dataclass, without its ``dataclasses.asdict`` deep copy of every result.
    """
    return {FINAL_RESULT: result, FINAL_STATE: state_json(state)}


def state_json(state: FinalState) -> dict[str, Any]:
    """Return ``state`` as ``dataclasses.asdict`` would, sharing its JSON values instead of copying.

    Temporal's JSON converter turns a dataclass into a dict with ``dataclasses.asdict``, which
    deep-copies every value inside (results, inputs, the run's context) only to serialise the
    copy; for a small run that was ~0.3 ms of a webhook run's CPU. The field order, and so the
    JSON, is the dataclasses' own.
    """
    return {
        "actions": [_action_json(action) for action in state.actions],
        "items": {ref: [_flat(item) for item in entries] for ref, entries in state.items.items()},
        "omitted": list(state.omitted),
        "context": state.context,
    }


def _action_json(action: ActionState) -> dict[str, Any]:
    data = _flat(action)
    data["events"] = [_flat(event) for event in action.events]
    data["streams"] = [_stream_json(stream) for stream in action.streams]
    return data


def _stream_json(stream: StreamState) -> dict[str, Any]:
    data = _flat(stream)
    data["events"] = [_flat(event) for event in stream.events]
    return data


def _flat(value: Any) -> dict[str, Any]:
    """Return a payload dataclass's fields by name, in field order (values shared, not copied)."""
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


def is_final_payload(value: Any) -> bool:
    """Return whether ``value`` is a run's completion as :func:`final_payload` builds it."""
    return isinstance(value, dict) and value.keys() == {FINAL_RESULT, FINAL_STATE}


def run_result(value: Any) -> Any:
    """Return a Keel run's result from what Temporal returns for it.

    Runs completed by older versions of Keel returned their result alone; it is returned as is.
    """
    return value[FINAL_RESULT] if is_final_payload(value) else value


@dataclass(frozen=True)
class ResolveRequest:
    """Input of ``keel.resolve_workflow``: which committed workflow a child run should run.

    Attributes:
        alias: The workflow's alias (``workflow_alias``).
        workflow_id: The workflow's id (``workflow_id``), when given instead.
        version: A committed version number; the latest when ``None``.
    """

    alias: str | None = None
    workflow_id: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class ResolvedWorkflow:
    """Output of ``keel.resolve_workflow``.

    Attributes:
        found: Whether the workflow exists.
        workflow_id: Its id.
        version: The committed version resolved.
        definition: The validated definition (``Workflow.model_dump`` JSON).
        message: Why it was not found.
    """

    found: bool
    workflow_id: str = ""
    version: int | None = None
    definition: dict[str, Any] = field(default_factory=dict)
    message: str = ""


@dataclass(frozen=True)
class InstantRequest:
    """Input of ``keel.resolve_instant``: a ``wait_until`` phrase and the run's time now.

    Attributes:
        text: The phrase (``tomorrow at 9am``).
        base: The run's clock when it asked, ISO 8601 (phrases are read relative to it).
    """

    text: str
    base: str


@dataclass(frozen=True)
class InstantResult:
    """Output of ``keel.resolve_instant``.

    Attributes:
        instant: The instant the phrase names, ISO 8601 in UTC, or None when it names none.
        message: Why the phrase was not understood.
    """

    instant: str | None = None
    message: str = ""


@dataclass
class StreamReport:
    """How one stream of a scatter ended, as its gather needs it.

    Attributes:
        index: The item's index in the collection.
        status: ``closed`` (reached the gather: ``value`` holds its ``items``), ``skipped``,
            ``open`` (no gather) or ``failed``.
        value: The gather's ``items`` evaluated in the stream.
        error: For a failed stream: ``{index, ref, type, message}``.
        states: From a relay run: the stream's entries per action, without results (those stay
            in the relay run's own record).
    """

    index: int
    status: str
    value: Any = None
    error: dict[str, Any] | None = None
    states: dict[str, list[StreamState]] = field(default_factory=dict)
