"""Webhook targets found in the store, reused for a short interval.

Every webhook delivery first finds what its URL leads to (:func:`keel.api.deliveries.find_target`:
the webhook row, its secret's digest, whether it is enabled, the latest committed version). That
read is a store round trip on the path of every delivery, for data that changes rarely, so the
API keeps each live target for ``KEEL_WEBHOOK_CACHE_SECONDS`` (1 s by default; 0 reads on every
delivery), as it keeps ``VARS`` (:mod:`keel.api.run_variables`).

Only what is safe to reuse is kept: a live target found by workflow id (an alias may be moved to
another workflow), whose webhook checks no signature (signing secrets are resolved from the store
per delivery). The URL secret is still checked against the kept digest on every delivery. A
commit, a deletion or a secret rotation through this process clears the cache at once; one made
through another API process is seen by this one within the interval, which the README states.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from keel.api.expiring import ExpiringMap

T = TypeVar("T")

#: The most targets kept at once (the oldest go first).
MAX_TARGETS = 1024


class TargetCache(ExpiringMap[T]):
    """Live webhook targets by workflow id, each kept for ``ttl`` seconds.

    Cleared (:meth:`clear`) after a commit, a deletion or a secret rotation.

    Args:
        ttl: How long a target read from the store is reused, in seconds; 0 turns caching off.
        clock: Monotonic seconds (a test may pass its own).
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl, MAX_TARGETS, clock)
