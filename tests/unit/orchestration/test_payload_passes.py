"""The SDK's payload passes, skipped only when they would change nothing.

Each decision is compared with what the SDK's own passes do to the same message (the store is a
dict; the whole path on a dev server, with the passes skipped where they may be, is
``tests/integration/test_large_payloads.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import temporalio.bridge.worker as bridge_worker
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.converter import DataConverter
from temporalio.converter._extstore import StorageOperationMetrics

from keel.orchestration import payload_passes
from keel.orchestration.payload_passes import (
    decoding_changes_nothing,
    encoding_changes_nothing,
)
from keel.orchestration.payload_types import KeelPayloadConverter
from tests.unit.orchestration.test_payload_storage import DictBlobs, converter

THRESHOLD = 1024


def completion(*values: bytes) -> WorkflowActivationCompletion:
    """A completion that completes its workflow with ``values`` as results of commands."""
    done = WorkflowActivationCompletion(run_id="run")
    for value in values:
        command = done.successful.commands.add()
        command.complete_workflow_execution.result.CopyFrom(
            Payload(metadata={"encoding": b"json/plain"}, data=value)
        )
    return done


def activation(payload: Payload) -> WorkflowActivation:
    """An activation that starts a workflow with ``payload`` as its argument."""
    act = WorkflowActivation(run_id="run")
    act.jobs.add().initialize_workflow.arguments.append(payload)
    return act


async def sdk_encode(message: WorkflowActivationCompletion, dc: DataConverter) -> bytes:
    """Return ``message`` as the SDK's own passes leave it."""
    original = payload_passes._ORIGINALS.get("encode_completion", bridge_worker.encode_completion)
    await original(message, dc, encode_headers=False, storage_concurrency_limit=4)
    return message.SerializeToString()


def test_the_sdk_has_what_the_shortcut_needs() -> None:
    assert payload_passes.SUPPORTED
    assert payload_passes.install()
    assert payload_passes.install()  # idempotent
    assert (
        bridge_worker.encode_completion.__wrapped__
        is payload_passes._ORIGINALS["encode_completion"]
    )


async def test_a_small_completion_is_left_alone_and_the_sdk_would_not_change_it() -> None:
    dc = converter(DictBlobs(), THRESHOLD)
    message = completion(b'"small"', b"[1,2,3]")
    before = message.SerializeToString()
    assert encoding_changes_nothing(message, dc)
    assert await sdk_encode(message, dc) == before


async def test_a_completion_with_a_large_payload_is_encoded_by_the_sdk() -> None:
    blobs = DictBlobs()
    dc = converter(blobs, THRESHOLD)
    message = completion(b'"small"', b'"' + b"x" * THRESHOLD + b'"')
    assert not encoding_changes_nothing(message, dc)
    assert await sdk_encode(message, dc) != completion(b'"small"').SerializeToString()
    assert len(blobs.data) == 1  # the large one went to the store


def test_small_payloads_adding_up_to_the_threshold_still_go_to_the_sdk() -> None:
    # No single payload is large, but the check is on the whole message: it errs towards the SDK.
    dc = converter(DictBlobs(), THRESHOLD)
    message = completion(*[b'"' + b"y" * 300 + b'"'] * 4)
    assert not encoding_changes_nothing(message, dc)


def test_a_codec_always_goes_to_the_sdk() -> None:
    class Codec:
        async def encode(self, payloads: list[Payload]) -> list[Payload]:
            return payloads

        async def decode(self, payloads: list[Payload]) -> list[Payload]:
            return payloads

    dc = dataclasses.replace(DataConverter.default, payload_codec=Codec())  # type: ignore[arg-type]
    assert not encoding_changes_nothing(completion(b"1"), dc)
    assert not decoding_changes_nothing(activation(Payload(data=b"1")), dc)


def test_without_external_storage_a_completion_is_always_left_alone() -> None:
    big = completion(b'"' + b"z" * 10 * THRESHOLD + b'"')
    assert encoding_changes_nothing(big, DataConverter.default)


async def test_an_activation_with_a_reference_is_decoded_by_the_sdk() -> None:
    blobs = DictBlobs()
    dc = converter(blobs, THRESHOLD)
    (reference,) = await dc.encode(["x" * THRESHOLD])
    assert reference.ByteSize() < THRESHOLD  # the history keeps a small reference
    message = activation(reference)
    assert not decoding_changes_nothing(message, dc)
    # And the SDK's passes turn it back into the value.
    original = payload_passes._ORIGINALS.get("decode_activation", bridge_worker.decode_activation)
    await original(message, dc, decode_headers=False, storage_concurrency_limit=4)
    (argument,) = message.jobs[0].initialize_workflow.arguments
    assert await dc.decode([argument]) == ["x" * THRESHOLD]


async def test_an_activation_without_a_reference_is_left_alone() -> None:
    dc = converter(DictBlobs(), THRESHOLD)
    (payload,) = await dc.encode([{"alert": "mark-free", "n": 3}])
    message = activation(payload)
    before = message.SerializeToString()
    assert decoding_changes_nothing(message, dc)
    original = payload_passes._ORIGINALS.get("decode_activation", bridge_worker.decode_activation)
    await original(message, dc, decode_headers=False, storage_concurrency_limit=4)
    assert message.SerializeToString() == before


async def test_the_installed_functions_still_store_large_payloads() -> None:
    assert payload_passes.install()
    blobs = DictBlobs()
    dc = converter(blobs, THRESHOLD)
    message = completion(b'"' + b"x" * THRESHOLD + b'"')
    await bridge_worker.encode_completion(
        message, dc, encode_headers=False, storage_concurrency_limit=4
    )
    assert len(blobs.data) == 1
    small = completion(b'"small"')
    before = small.SerializeToString()
    await bridge_worker.encode_completion(
        small, dc, encode_headers=False, storage_concurrency_limit=4
    )
    assert small.SerializeToString() == before


def keels(dc: DataConverter) -> DataConverter:
    """``dc`` as a Keel worker's: Keel's payload converter."""
    return dataclasses.replace(dc, payload_converter_class=KeelPayloadConverter)


async def test_only_keels_workers_skip_the_sdks_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A user's own Temporal worker in the same process (or the benchmark's raw floor) keeps the
    # SDK's passes: install() replaces the SDK's functions for the whole process.
    assert payload_passes.install()
    reached: list[tuple[str, bool]] = []

    def spy(name: str) -> Any:
        async def sdk(message: Any, dc: DataConverter, *args: Any, **kwargs: Any) -> Any:
            reached.append((name, payload_passes.is_keels(dc)))
            return StorageOperationMetrics()

        return sdk

    for name in ("encode_completion", "decode_activation"):
        monkeypatch.setitem(payload_passes._ORIGINALS, name, spy(name))
    plain = converter(DictBlobs(), THRESHOLD)
    for dc in (keels(plain), plain, keels(DataConverter.default), DataConverter.default):
        await bridge_worker.encode_completion(
            completion(b'"small"'), dc, encode_headers=False, storage_concurrency_limit=4
        )
        await bridge_worker.decode_activation(
            activation(Payload(data=b"1")), dc, decode_headers=False, storage_concurrency_limit=4
        )
    assert (
        reached
        == [
            ("encode_completion", False),
            ("decode_activation", False),
        ]
        * 2
    )
    # A Keel worker's message that the passes would change still goes to the SDK.
    big = completion(b'"' + b"x" * THRESHOLD + b'"')
    await bridge_worker.encode_completion(
        big, keels(plain), encode_headers=False, storage_concurrency_limit=4
    )
    assert reached[-1] == ("encode_completion", True)
