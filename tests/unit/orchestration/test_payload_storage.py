"""Keel's external-storage driver, through the SDK's data converter (store: a dict).

What goes to the store, what the history would keep, how it comes back, and the errors. The real
store is tested in ``tests/integration/store/test_blobs.py``, the whole path on a dev server in
``tests/integration/test_large_payloads.py``.
"""

from __future__ import annotations

import dataclasses
import zlib

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from keel.orchestration.payload_storage import (
    DRIVER_NAME,
    KeelStoreDriver,
    MissingPayloadError,
    external_storage,
)

REFERENCE_TYPE = b"temporal.api.sdk.v1.ExternalStorageReference"


class DictBlobs:
    """An in-memory blob store that counts its reads."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.reads = 0

    async def put(self, key: str, data: bytes, size: int) -> None:
        assert len(zlib.decompress(data)) == size
        self.data[key] = data

    async def get(self, key: str) -> bytes | None:
        self.reads += 1
        return self.data.get(key)


def converter(blobs: DictBlobs, threshold: int = 1024) -> DataConverter:
    return dataclasses.replace(
        DataConverter.default, external_storage=external_storage(blobs, threshold)
    )


async def test_small_values_stay_inline() -> None:
    blobs = DictBlobs()
    (encoded,) = await converter(blobs).encode(["x" * 100])
    assert encoded.data == b'"' + b"x" * 100 + b'"'
    assert blobs.data == {}


async def test_large_values_become_references_and_come_back() -> None:
    blobs = DictBlobs()
    values = ["small", {"rows": ["y" * 100] * 500}]
    encoded = await converter(blobs).encode(values)
    assert encoded[0].data == b'"small"'
    reference = encoded[1]
    assert reference.metadata["messageType"] == REFERENCE_TYPE
    assert reference.ByteSize() < 400
    assert DRIVER_NAME.encode() in reference.data and b"sha256:" in reference.data
    assert len(blobs.data) == 1
    assert await converter(blobs).decode(encoded) == values


async def test_a_fresh_driver_reads_from_the_store_then_from_memory() -> None:
    blobs = DictBlobs()
    encoded = await converter(blobs).encode(["z" * 5_000])
    reader = converter(blobs)
    assert await reader.decode(encoded) == ["z" * 5_000]
    assert blobs.reads == 1
    assert await reader.decode(encoded) == ["z" * 5_000]
    assert blobs.reads == 1  # the second read is served from memory


async def test_the_same_content_has_the_same_key() -> None:
    blobs = DictBlobs()
    first = await converter(blobs).encode(["w" * 5_000])
    second = await converter(blobs).encode(["w" * 5_000])
    assert first == second and len(blobs.data) == 1


async def test_a_missing_blob_is_a_clear_error() -> None:
    encoded = await converter(DictBlobs()).encode(["u" * 5_000])
    with pytest.raises(MissingPayloadError, match=r"is not in Keel's store.*KEEL_DATABASE_URL"):
        await converter(DictBlobs()).decode(encoded)


async def test_a_damaged_blob_is_refused() -> None:
    blobs = DictBlobs()
    encoded = await converter(blobs).encode(["t" * 5_000])
    key = next(iter(blobs.data))
    blobs.data[key] = zlib.compress(Payload(data=b'"tampered"').SerializeToString())
    with pytest.raises(MissingPayloadError, match="damaged: its hash differs"):
        await converter(blobs).decode(encoded)
    blobs.data[key] = b"not zlib"
    with pytest.raises(MissingPayloadError, match="damaged"):
        await converter(blobs).decode(encoded)


async def test_the_cache_is_bounded_by_bytes() -> None:
    blobs = DictBlobs()
    driver = KeelStoreDriver(blobs, cache_bytes=12_000)
    storage = dataclasses.replace(external_storage(blobs, 1024), drivers=[driver])
    dc = dataclasses.replace(DataConverter.default, external_storage=storage)
    encoded = [await dc.encode([c * 5_000]) for c in "abc"]
    await dc.decode(encoded[2])
    assert blobs.reads == 0  # the newest is still cached
    await dc.decode(encoded[0])
    assert blobs.reads == 1  # the oldest was dropped to stay under 12,000 bytes


async def test_the_cache_is_immune_to_the_sdk_rewriting_payloads_in_place() -> None:
    # The SDK's worker stores a payload, then overwrites that very object with its reference.
    driver = KeelStoreDriver(DictBlobs())
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'"original"')
    (claim,) = await driver.store(StorageDriverStoreContext(), [payload])
    payload.CopyFrom(Payload(data=b"reference"))
    (back,) = await driver.retrieve(StorageDriverRetrieveContext(), [claim])
    assert back.data == b'"original"'
    back.data = b"changed by a caller"
    (again,) = await driver.retrieve(StorageDriverRetrieveContext(), [claim])
    assert again.data == b'"original"'
