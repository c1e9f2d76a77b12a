"""Reading a closed run from its close event: its result and its final state, no replay.

Asking a closed run's queries makes a worker replay its whole history (seconds for a run with a
thousand ``for_each`` items) and fails when no worker polls the run's task queue. A Keel run
that completes returns its :class:`~keel.orchestration.payloads.FinalState` next to its result,
and one that fails carries it as its failure's details, so both are read here with one history
call (the close event only). Runs that were cancelled, terminated or timed out, and runs closed
by an older Keel, carry none: their readers fall back to the queries.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypeVar

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from keel.orchestration.payloads import (
    FINAL_RESULT,
    FINAL_STATE,
    ActionEvent,
    ActionState,
    FinalState,
    ItemState,
    StreamState,
    is_final_payload,
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class ClosedRun:
    """What a closed run's close event says.

    Attributes:
        state: Its final state; None when the event carries none (see the module docstring).
        result: Its result, when it completed.
        context: ``ACTIONS`` and ``TRIGGER`` as the run ended, when ``state`` is known.
    """

    state: FinalState | None
    result: Any = None
    context: dict[str, Any] | None = None


async def read_closed(handle: WorkflowHandle[Any, Any]) -> ClosedRun:
    """Return what the close event of the closed run behind ``handle`` says.

    Raises:
        RPCError: Temporal could not answer (no such run).
    """
    try:
        value = await handle.result()
    except WorkflowFailureError as failed:
        cause = failed.cause
        if isinstance(cause, ApplicationError) and cause.details:
            state = state_from_json(cause.details[0])
            return ClosedRun(state, None, state.context if state else None)
        return ClosedRun(None)  # cancelled, terminated, timed out: nothing recorded
    if not is_final_payload(value):
        return ClosedRun(None, value)  # closed by an older Keel: the result alone
    state = state_from_json(value[FINAL_STATE])
    result = value[FINAL_RESULT]
    if state is None:
        return ClosedRun(None, result)
    # Without `returns` the result is the context itself; it is not carried twice.
    context = state.context if state.context is not None else result
    return ClosedRun(state, result, context if isinstance(context, dict) else None)


def state_from_json(data: Any) -> FinalState | None:
    """Return ``data`` (decoded JSON) as a :class:`FinalState`, or None when it is not one.

    Built by hand rather than with the SDK's generic ``value_to_type``, which resolves the
    type hints of every item again (a second for a thousand items).
    """
    if not isinstance(data, dict):
        return None
    try:
        context = data.get("context")
        return FinalState(
            actions=[_action(a) for a in data.get("actions", [])],
            items={ref: [_build(ItemState, i) for i in v] for ref, v in data["items"].items()},
            omitted=[str(ref) for ref in data.get("omitted", [])],
            context=dict(context) if isinstance(context, dict) else None,
        )
    except (TypeError, ValueError, KeyError, AttributeError):
        return None  # not a state this Keel can read: its readers ask the queries instead


def _action(data: dict[str, Any]) -> ActionState:
    """Return one action's state (with its events and streams) from decoded JSON."""
    state = _build(ActionState, data)
    state.events = [_build(ActionEvent, e) for e in data.get("events", [])]
    state.streams = [_stream(s) for s in data.get("streams", [])]
    return state


def _stream(data: dict[str, Any]) -> StreamState:
    """Return one stream's state (with its events) from decoded JSON."""
    stream = _build(StreamState, data)
    stream.events = [_build(ActionEvent, e) for e in data.get("events", [])]
    return stream


def _build(cls: type[_T], data: dict[str, Any]) -> _T:
    """Return ``cls(**data)`` with only the fields ``cls`` has (a newer Keel may add some)."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


_FIELDS: dict[type, frozenset[str]] = {}
