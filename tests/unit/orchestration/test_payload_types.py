"""Keel's payloads decoded by pydantic read exactly as the SDK's own decoding reads them.

Each payload class gets a sample with every field set (nested payloads included), written by
Temporal's default converter and read back both ways. The whole path on a dev server is the
rest of the suite: every run's input, activity input and result goes through this converter.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DefaultPayloadConverter, JSONTypeConverter

from keel.config import Settings
from keel.orchestration import payloads
from keel.orchestration.connection import data_converter
from keel.orchestration.payload_types import PAYLOAD_CLASSES, KeelPayloadConverter, PayloadTypes
from keel.orchestration.payloads import ActionResult, ActionTask, FinalState, RunRequest


def sample(hint: Any, seed: int = 1) -> Any:
    """Return a value of type ``hint`` with every field set (``seed`` varies the scalars)."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        values = {
            f.name: sample(hints[f.name], seed + i) for i, f in enumerate(dataclasses.fields(hint))
        }
        return hint(**values)
    if origin in (typing.Union, types.UnionType):
        chosen = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        return sample(chosen, seed)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return [sample(item, seed), sample(item, seed + 1)]
    if origin is dict:
        _, value = typing.get_args(hint)
        return {f"k{seed}": sample(value, seed), "other": sample(value, seed + 1)}
    simple: dict[Any, Any] = {
        str: f"text {seed}",
        int: seed,
        float: seed + 0.5,
        bool: seed % 2 == 0,
        Any: {"nested": [seed, {"deep": f"v{seed}"}], "none": None},
    }
    return simple[hint]


def payload_of(value: Any) -> Payload:
    (written,) = DefaultPayloadConverter().to_payloads([value])
    return written


@pytest.mark.parametrize("cls", sorted(PAYLOAD_CLASSES, key=lambda c: c.__name__), ids=str)
def test_every_payload_class_reads_back_as_the_sdk_reads_it(cls: type) -> None:
    value = sample(cls)
    written = payload_of(value)
    (ours,) = KeelPayloadConverter().from_payloads([written], [cls])
    (sdks,) = DefaultPayloadConverter().from_payloads([written], [cls])
    assert ours == sdks == value
    assert type(ours) is cls
    # Decoded here, not handed back to the SDK's walk.
    direct = PayloadTypes().to_typed_value(cls, json.loads(written.data))
    assert direct is not JSONTypeConverter.Unhandled
    assert direct == value


def test_the_payload_classes_are_every_dataclass_of_the_payloads_module() -> None:
    defined = {
        value
        for value in vars(payloads).values()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
    }
    assert defined == PAYLOAD_CLASSES
    assert {RunRequest, ActionTask, ActionResult, FinalState} <= PAYLOAD_CLASSES


def test_a_payload_written_before_a_field_existed_gets_the_default() -> None:
    # A history from an older Keel: only the fields RunRequest had then.
    written = Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps({"definition": {"actions": []}, "trigger": {"a": 1}}).encode(),
    )
    (ours,) = KeelPayloadConverter().from_payloads([written], [RunRequest])
    (sdks,) = DefaultPayloadConverter().from_payloads([written], [RunRequest])
    assert ours == sdks
    assert ours.actions_queue is None and ours.completed == {} and ours.parent is None


def test_fields_a_newer_keel_wrote_are_ignored_as_the_sdk_ignores_them() -> None:
    written = payload_of({"ok": True, "result": 3, "from_the_future": "x"})
    (ours,) = KeelPayloadConverter().from_payloads([written], [ActionResult])
    assert ours == ActionResult(ok=True, result=3)


def test_a_value_that_does_not_fit_names_the_field() -> None:
    written = payload_of({"definition": "not an object", "workflow_id": ["nor", "this"]})
    with pytest.raises(TypeError) as raised:
        KeelPayloadConverter().from_payloads([written], [RunRequest])
    message = str(raised.value)
    assert "RunRequest" in message
    assert "definition" in message and "workflow_id" in message


def test_a_missing_required_field_is_refused() -> None:
    with pytest.raises(TypeError, match="ok"):
        KeelPayloadConverter().from_payloads([payload_of({"result": 1})], [ActionResult])


def test_other_types_are_left_to_the_sdk() -> None:
    assert PayloadTypes().to_typed_value(dict, {"a": 1}) is JSONTypeConverter.Unhandled
    written = payload_of([1, 2, 3])
    assert KeelPayloadConverter().from_payloads([written], [list[int]]) == [[1, 2, 3]]
    assert KeelPayloadConverter().from_payloads([payload_of(None)], [None]) == [None]
    assert KeelPayloadConverter().from_payloads([payload_of(b"raw")], [bytes]) == [b"raw"]


def test_keels_data_converter_uses_it(tmp_path: Any) -> None:
    settings = Settings(home=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    converter = data_converter(settings)
    assert converter.payload_converter_class is KeelPayloadConverter
    # The SDK wraps the converter it builds; what it decodes with says whose it is.
    with pytest.raises(TypeError, match="cannot read a RunRequest payload"):
        converter.payload_converter.from_payloads([payload_of({"trigger": 1})], [RunRequest])


def test_copies_of_the_data_converter_share_the_converters_and_encode_as_the_default() -> None:
    # The SDK copies the data converter (and so makes a new payload converter) for every
    # workflow instance and serialization context: each copy takes the converters built once.
    converter = data_converter(Settings())
    copy = dataclasses.replace(converter)
    assert copy.payload_converter is not converter.payload_converter
    first, second = KeelPayloadConverter(), KeelPayloadConverter()
    assert first.converters is second.converters
    assert list(first.converters) == list(DefaultPayloadConverter().converters)
    values = [{"a": [1, {"b": None}]}, None, b"raw bytes", "text"]
    ours = first.to_payloads(values)
    assert ours == DefaultPayloadConverter().to_payloads(values)
    assert second.from_payloads(ours) == values
    with pytest.raises(TypeError):  # the shared mapping cannot be changed through an instance
        first.converters[b"json/plain"] = first.converters[b"binary/null"]  # type: ignore[index]
