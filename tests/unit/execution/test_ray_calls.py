"""A call and its result cross to a Ray worker as bytes, and read back as they were."""

from __future__ import annotations

import pickle

import pytest

from keel.execution.ray_calls import RemoteCall, pack_result, unpack_result
from keel.expressions.limits import DEFAULT, Limits


def test_a_call_reads_back_field_for_field() -> None:
    limits = Limits(expression_work=123, max_length=77)
    call = RemoteCall(
        "core.http_request",
        {"url": "https://example.test", "payload": {"n": [1, 2.5, None, True]}},
        hidden=("s3cr3t",),
        secrets={"token": {"value": "s3cr3t"}},
        limits=limits,
    )
    packed = call.pack()
    assert isinstance(packed, bytes)
    assert RemoteCall.unpack(packed) == call


def test_a_function_pickled_by_value_travels_as_its_bytes() -> None:
    target = b"\x80\x05 a pickled function"
    call = RemoteCall(target, {})
    back = RemoteCall.unpack(call.pack())
    assert back.target == target and back.limits == DEFAULT and back.secrets is None


def test_bytes_that_are_not_a_call_are_refused() -> None:
    with pytest.raises(TypeError, match="expected a packed RemoteCall, got dict"):
        RemoteCall.unpack(pickle.dumps({"target": "core.x"}))


def test_results_read_back_including_what_json_cannot_hold() -> None:
    for value in (None, {"a": [1, {"b": "c"}]}, b"bytes", {1, 2}, 3.5):
        assert unpack_result(pack_result(value)) == value
