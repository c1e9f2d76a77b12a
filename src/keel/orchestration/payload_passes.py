"""The SDK's payload passes over each workflow activation and completion, skipped when idle.

Before a workflow task runs, the SDK walks every payload of the activation three times
(external storage references, external storage retrieval, the payload codec), and after it
every payload of the completion three times again. Each pass copies each payload sequence,
writes it back, and asks the workflow instance which serialization context the payload
belongs to: ~7% of an API process's Python CPU in a ``/wait`` webhook run (py-spy ``--gil``),
and as much of a worker's per activation. Keel has no payload codec, and its external storage
(:mod:`keel.orchestration.payload_storage`) only acts on payloads of at least its threshold
and on references to them. So :func:`install` lets the SDK's passes run only when they can
change something:

- a completion is encoded by the SDK when a codec is set, or when the whole completion is at
  least the external storage threshold (no payload in it can be bigger than the whole);
- an activation is decoded by the SDK when a codec is set, or when its bytes contain any of the
  markers of an external storage reference (a stray match in user data only costs the SDK's
  passes).

Otherwise the passes would hand every payload back unchanged, and are skipped, for Keel's own
workers only (a worker whose data converter is Keel's): the SDK's functions are replaced for the
whole process, and any other worker in it goes on calling the SDK's passes. These are
private functions of the SDK's bridge module, which its workflow worker looks up at each call;
should a release rename them, :data:`SUPPORTED` is false and nothing is replaced (tests check
that it is true, that large payloads still go to the store and come back, and that the
decisions match what the SDK's passes do).
"""

from __future__ import annotations

from typing import Any

import temporalio.bridge.worker as bridge_worker
from google.protobuf.message import Message
from temporalio.converter import DataConverter, _extstore
from temporalio.converter._extstore import StorageOperationMetrics

from keel.orchestration.payload_types import KeelPayloadConverter

_NAMES = ("decode_activation", "encode_completion")

#: The byte strings one of which every external storage reference payload carries.
_REFERENCE_MARKS: tuple[bytes, ...] = tuple(
    mark.encode() if isinstance(mark, str) else mark
    for mark in (
        getattr(_extstore, "_REFERENCE_ENCODING", None),
        getattr(_extstore, "_REFERENCE_MESSAGE_TYPE", None),
        getattr(_extstore, "_REFERENCE_MARKER_KEY", None),
    )
    if mark
)

#: Whether this SDK has the module functions :func:`install` wraps and the reference marks.
SUPPORTED = (
    all(callable(getattr(bridge_worker, name, None)) for name in _NAMES)
    and len(_REFERENCE_MARKS) == 3
)

_ORIGINALS: dict[str, Any] = {}


def encoding_changes_nothing(completion: Message, data_converter: DataConverter) -> bool:
    """Return whether encoding ``completion``'s payloads would hand each back unchanged."""
    if data_converter.payload_codec is not None:
        return False
    storage = data_converter.external_storage
    return storage is None or completion.ByteSize() < storage.payload_size_threshold


def decoding_changes_nothing(activation: Message, data_converter: DataConverter) -> bool:
    """Return whether decoding ``activation``'s payloads would hand each back unchanged."""
    if data_converter.payload_codec is not None:
        return False
    # Without a mark, no payload is a reference (with one and no storage, the SDK refuses it).
    data = activation.SerializeToString()
    return not any(mark in data for mark in _REFERENCE_MARKS)


_UNCHANGED = {
    "decode_activation": decoding_changes_nothing,
    "encode_completion": encoding_changes_nothing,
}


def is_keels(data_converter: DataConverter) -> bool:
    """Return whether ``data_converter`` is a Keel worker's (:func:`install` acts on no other)."""
    return data_converter.payload_converter_class is KeelPayloadConverter


def _skipping(name: str) -> Any:
    original = getattr(bridge_worker, name)
    unchanged = _UNCHANGED[name]

    async def skipping(
        message: Message, data_converter: DataConverter, *args: Any, **kwargs: Any
    ) -> StorageOperationMetrics:
        if is_keels(data_converter) and unchanged(message, data_converter):
            return StorageOperationMetrics()
        # Looked up per call, so that a test can watch which calls reach the SDK.
        sdk = _ORIGINALS[name]
        result: StorageOperationMetrics = await sdk(message, data_converter, *args, **kwargs)
        return result

    skipping.__name__ = skipping.__qualname__ = name
    skipping.__doc__ = original.__doc__
    skipping.__wrapped__ = original  # type: ignore[attr-defined]
    return skipping


def install() -> bool:
    """Make this process's Keel workers skip payload passes that change nothing.

    Idempotent; called where Keel builds its workers. Only workers whose data converter is
    Keel's (:func:`is_keels`) skip anything: any other Temporal worker in the process (a user's
    own, or the benchmark's raw floor) keeps the SDK's passes exactly as they are.

    Returns:
        Whether the passes are now skipped (false: this SDK lacks the functions).
    """
    if not SUPPORTED:
        return False
    for name in _NAMES:
        if name not in _ORIGINALS:
            _ORIGINALS[name] = getattr(bridge_worker, name)
            setattr(bridge_worker, name, _skipping(name))
    return True
