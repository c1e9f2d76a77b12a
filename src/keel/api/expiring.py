"""A small map whose entries expire: what the API keeps from the store for a short interval.

Webhook targets (:mod:`keel.api.webhook_targets`) and each environment's ``VARS``
(:mod:`keel.api.run_variables`) are read on the path of every delivery and change rarely, so an
API process keeps them for a few seconds; a change made through the same process clears them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ExpiringMap(Generic[T]):
    """Values by key, each kept for ``ttl`` seconds, at most ``limit`` at once (oldest go first).

    Args:
        ttl: How long a value is kept, in seconds; 0 keeps nothing.
        limit: The most values kept at once.
        clock: Monotonic seconds (a test may pass its own).
    """

    def __init__(self, ttl: float, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._limit = limit
        self._clock = clock
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        """Return the value kept for ``key`` if it is still fresh."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, value: T) -> None:
        """Keep ``value`` for ``ttl`` seconds (nothing when ``ttl`` is 0)."""
        if self.ttl <= 0:
            return
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + self.ttl, value)
        while len(self._entries) > self._limit:
            del self._entries[next(iter(self._entries))]

    def clear(self) -> None:
        """Forget every kept value."""
        self._entries.clear()
