"""Large payloads outside Temporal's history, in Keel's store (Temporal's external storage).

Temporal records every payload a run exchanges (workflow input, activity arguments and results,
local-activity markers, child inputs and results, query answers) in its history, and caps each
payload at 2 MB and a history at 50 MB. A workflow that fetches a big report or gathers
thousands of records would hit those limits. The Temporal SDK's *external storage* is the
answer: payloads above a size threshold go to a storage driver and the history keeps a small
reference; on the way back the SDK swaps the reference for the payload before workflow code
sees it. It runs in the client and worker's data converter, outside the workflow sandbox, so
workflow code and expressions read the full value unchanged.

:class:`KeelStoreDriver` is Keel's driver: it keeps payloads in a :class:`BlobStore` (Keel's
database: ``keel.store.blobs.DatabaseBlobs``), keyed by the SHA-256 of their bytes, so writing
one twice is harmless and concurrent writers agree; it checks the hash on the way back.
Every process that reads or writes Keel runs (workers, the API, the CLI) must use the same
store, the same way they share secrets: :func:`keel.orchestration.connection.connect` installs
the driver on every client Keel builds.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ExternalStorage,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from keel.errors import StoreError

#: Payloads kept in memory after a write or a read, so a worker reads back what it just wrote
#: (an activity's result, then the workflow task that consumes it) without a query.
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
#: The driver's name, recorded in every reference: it must stay the same for stored histories.
DRIVER_NAME = "keel-store"


class BlobStore(Protocol):
    """Where offloaded payloads live (Keel's store: ``keel.store.blobs.DatabaseBlobs``)."""

    async def put(self, key: str, data: bytes, size: int) -> None:
        """Store ``data`` (compressed) under ``key``; ``size`` is its uncompressed length."""
        ...

    async def get(self, key: str) -> bytes | None:
        """Return the compressed data stored under ``key``, or ``None`` when there is none."""
        ...


class MissingPayloadError(StoreError):
    """A history refers to an offloaded payload that Keel's store lacks or holds damaged.

    The run was written by a process using another store, or the blob was deleted.
    """


class KeelStoreDriver(StorageDriver):
    """Temporal external-storage driver that keeps payloads in a :class:`BlobStore`.

    Args:
        blobs: Where payloads are written and read.
        cache_bytes: Bytes of recently written or read payloads kept in memory.
    """

    def __init__(self, blobs: BlobStore, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.blobs = blobs
        self._cache = _PayloadCache(cache_bytes)

    def name(self) -> str:
        """Return the name references record (see :data:`DRIVER_NAME`)."""
        return DRIVER_NAME

    def type(self) -> str:
        """Return the driver type, the same for every instance."""
        return "keel.store"

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        """Write each payload under its SHA-256 and return the claims that find it again."""
        claims = []
        for payload in payloads:
            raw = payload.SerializeToString()
            key = "sha256:" + hashlib.sha256(raw).hexdigest()
            await self.blobs.put(key, zlib.compress(raw, 1), len(raw))
            self._cache.add(key, _copy(payload), len(raw))
            claims.append(StorageDriverClaim({"key": key, "size": str(len(raw))}))
        return claims

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        """Return the payload of each claim, checking it against its hash."""
        return [await self._retrieve_one(claim) for claim in claims]

    async def _retrieve_one(self, claim: StorageDriverClaim) -> Payload:
        key = claim.claim_data.get("key", "")
        if not key.startswith("sha256:"):
            raise MissingPayloadError(f"a stored-payload reference is malformed: {claim}")
        cached = self._cache.get(key)
        if cached is not None:
            return _copy(cached)
        stored = await self.blobs.get(key)
        if stored is None:
            raise MissingPayloadError(
                f"stored payload {key} is not in Keel's store: every worker, API and CLI of "
                "one Temporal namespace must use the same KEEL_DATABASE_URL"
            )
        try:
            raw = zlib.decompress(stored)
        except zlib.error as exc:
            raise MissingPayloadError(f"stored payload {key} is damaged: {exc}") from exc
        if "sha256:" + hashlib.sha256(raw).hexdigest() != key:
            raise MissingPayloadError(f"stored payload {key} is damaged: its hash differs")
        payload = Payload.FromString(raw)
        self._cache.add(key, _copy(payload), len(raw))
        return payload


def external_storage(blobs: BlobStore, threshold: int) -> ExternalStorage:
    """Return the SDK's external-storage settings: payloads above ``threshold`` go to ``blobs``."""
    return ExternalStorage(drivers=[KeelStoreDriver(blobs)], payload_size_threshold=threshold)


def _copy(payload: Payload) -> Payload:
    """Return a copy: the SDK rewrites payloads in place (a stored one becomes its reference)."""
    copy = Payload()
    copy.CopyFrom(payload)
    return copy


class _PayloadCache:
    """A least-recently-used map of key -> payload, bounded by total payload bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[Payload, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> Payload | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def add(self, key: str, payload: Payload, size: int) -> None:
        if size > self.capacity or key in self._items:
            return
        self._items[key] = (payload, size)
        self._bytes += size
        while self._bytes > self.capacity:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped
