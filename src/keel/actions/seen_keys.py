"""What ``core.transform.deduplicate`` and ``is_duplicate`` remember across runs.

Deduplicating alerts means remembering, for a while, which ones a workflow has already handled.
The memory lives in Keel's store (``keel.store.seen_keys.DatabaseSeenKeys``); the activity that
runs an action installs it in :data:`CURRENT_SEEN` with the action's *scope* (its workflow: two
workflows never see each other's keys) and *owner* (the run, action and for_each item: a retried
attempt of the same call finds the keys it recorded itself and gets the same answer, so a retry
never drops an item). Actions that read it are registered ``stateful`` and always run in the
worker process, next to the store, whatever the executor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol


class SeenKeys(Protocol):
    """A store of keys seen recently, per scope."""

    async def remember(
        self, scope: str, owner: str, digests: Sequence[str], ttl_seconds: float
    ) -> set[str]:
        """Record ``digests`` for ``ttl_seconds``; return those another owner recorded before.

        A digest recorded by another owner and not yet expired is *seen* (and left as it is);
        any other digest is recorded (again) for ``owner`` and is not seen.
        """
        ...


@dataclass(frozen=True)
class SeenScope:
    """The seen-keys store of the running action call, with the call's scope and owner.

    Attributes:
        store: Where keys are remembered.
        scope: Whose keys these are (the Keel workflow id).
        owner: Which call records them (run, action ref and item), for idempotent retries.
    """

    store: SeenKeys
    scope: str
    owner: str

    async def seen(self, digests: Iterable[str], ttl_seconds: float) -> set[str]:
        """Record ``digests``; return those seen before by another call within the TTL."""
        return await self.store.remember(self.scope, self.owner, list(digests), ttl_seconds)


#: The seen-keys store of the action call running now (set by the activity), if any.
CURRENT_SEEN: ContextVar[SeenScope | None] = ContextVar("keel_seen_keys", default=None)


def digest(identity: Sequence[str]) -> str:
    """Return the stored form of an item's identity (its JSON key values): a SHA-256 hex."""
    return hashlib.sha256("\x1f".join(identity).encode()).hexdigest()
