"""A run's final state: wrapped with its result, unwrapped for callers, read back from JSON.

And the plain JSON data Keel hands Temporal instead of its dataclasses (the same JSON).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from keel.orchestration.final_state import state_from_json
from keel.orchestration.payloads import (
    ActionEvent,
    ActionState,
    ActionTask,
    DeferredArg,
    FinalState,
    ItemState,
    ParentLink,
    RelaySpec,
    RunRequest,
    StreamRelaySpec,
    StreamState,
    final_payload,
    is_final_payload,
    request_json,
    run_result,
    task_json,
)


def as_json(value: Any) -> Any:
    """Return ``value`` as Temporal's JSON converter would hand it back (dataclasses as dicts)."""

    def default(obj: Any) -> Any:
        return dataclasses.asdict(obj)

    return json.loads(json.dumps(value, default=default))


def test_run_result_unwraps_only_the_final_payload() -> None:
    state = FinalState()
    assert run_result(final_payload({"a": 1}, state)) == {"a": 1}
    assert run_result(final_payload(None, state)) is None
    # A run closed by an older Keel returned its result alone, whatever its shape.
    assert run_result({"keel_result": 1}) == {"keel_result": 1}
    assert run_result([1, 2]) == [1, 2]
    assert not is_final_payload({"keel_result": 1, "keel_state": {}, "more": 2})


def test_a_state_round_trips_through_json() -> None:
    action = ActionState(
        "each",
        status="failed",
        attempts=2,
        started_at="2026-01-01T00:00:00+00:00",
        ended_at="2026-01-01T00:00:01+00:00",
        error="ZeroDivisionError: division by zero",
        events=[ActionEvent("warning", "a path matched nothing")],
        streams=[StreamState("s[0]", "succeeded", 1, result=3, events=[ActionEvent("info", "i")])],
    )
    items = [ItemState(0, "succeeded", {"n": 1}, 1, result=10), ItemState(1, "failed", {"n": 0})]
    state = FinalState([action], {"each": items}, ["huge"], {"ACTIONS": {}, "TRIGGER": None})
    payload = as_json(final_payload(1, state))
    assert is_final_payload(payload)
    assert state_from_json(payload["keel_state"]) == state


def test_fields_of_a_newer_keel_are_ignored_and_garbage_is_no_state() -> None:
    data = as_json(FinalState([ActionState("a")], {}))
    data["actions"][0]["added_later"] = True
    data["added_later"] = 1
    assert state_from_json(data) == FinalState([ActionState("a")], {})
    assert state_from_json("not a state") is None
    assert state_from_json({"actions": "nope", "items": {}}) is None
    assert state_from_json({"actions": []}) is None  # no items: not a state this Keel wrote


def test_the_state_json_is_what_the_converter_writes_for_the_dataclass() -> None:
    action = ActionState(
        "a",
        status="succeeded",
        events=[ActionEvent("warning", "w")],
        streams=[
            StreamState("s[0]", result={"deep": [1, {"x": 2}]}, events=[ActionEvent("i", "m")])
        ],
    )
    items = {"each": [ItemState(0, "succeeded", {"n": 1}, 1, result=[{"r": 1}])]}
    state = FinalState([action], items, ["huge"], {"ACTIONS": {"a": {"result": 1}}, "TRIGGER": 2})
    written = json.dumps(final_payload(None, state)["keel_state"])
    assert written == json.dumps(dataclasses.asdict(state))
    assert json.dumps(final_payload(None, FinalState())["keel_state"]) == json.dumps(
        dataclasses.asdict(FinalState())
    )


def test_the_request_json_is_what_the_converter_writes_for_the_dataclass() -> None:
    plain = RunRequest({"title": "t", "actions": [{"ref": "a"}]}, trigger={"x": [1]})
    nested = RunRequest(
        {"title": "t"},
        parent=ParentLink("wf-1", "wf_a", "call"),
        relay=RelaySpec({"ref": "call"}, [{"n": 1}], 2),
        streams=StreamRelaySpec("s", [1, 2], actions={"a": {"result": 1}}),
        actions_queue="q",
    )
    for request in (plain, nested):
        assert json.dumps(request_json(request)) == json.dumps(dataclasses.asdict(request))


def test_the_task_json_is_what_the_converter_writes_for_the_dataclass() -> None:
    plain = ActionTask("a", "core.http_request", {"url": "http://x", "n": [1, {"y": None}]})
    deferred = ActionTask(
        "b",
        "sample.intel.lookup",
        {"ip": "1.2.3.4"},
        deferred=[DeferredArg(["headers", 0], "${{ SECRETS.k.v }}")],
        context={"TRIGGER": {"x": 1}},
        environment="prod",
        timeout=12.5,
        attempt=3,
        workflow_id="wf_1",
    )
    for task in (plain, deferred):
        assert json.dumps(task_json(task)) == json.dumps(dataclasses.asdict(task))
