"""The ``VARS`` runs start with, read from the store at most once per short interval.

Every run started through the API carries its environment's variables (see
:mod:`keel.api.launcher`). Reading them costs a store query per run, on the path of every webhook
delivery; they change rarely, so the API keeps each environment's mapping for
``KEEL_VARIABLES_CACHE_SECONDS`` (2 s by default; 0 reads on every run). A variable written through
this process's API clears the cache at once; one written through another API process is seen by
this one within that interval, which the README states.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from keel.api.expiring import ExpiringMap
from keel.store import variables
from keel.store.database import Database

#: The most environments whose variables are kept at once.
MAX_ENVIRONMENTS = 1024


class VariablesCache:
    """Each environment's variables, kept for ``ttl`` seconds.

    Args:
        ttl: How long a mapping read from the store is reused, in seconds; 0 turns caching off.
        clock: Monotonic seconds (a test may pass its own).
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._kept: ExpiringMap[dict[str, dict[str, Any]]] = ExpiringMap(
            ttl, MAX_ENVIRONMENTS, clock
        )

    async def get(self, database: Database, environment: str) -> dict[str, dict[str, Any]]:
        """Return ``{name: values}`` of ``environment``: cached, or read in a session of its own.

        The mapping is shared between runs: callers must not change it.
        """
        kept = self._kept.get(environment)
        if kept is not None:
            return kept
        async with database.session() as session:
            mapping = await variables.variables_mapping(session, environment)
        # A burst of misses may read a few times over; each read is current, so any wins.
        self._kept.put(environment, mapping)
        return mapping

    def clear(self) -> None:
        """Forget every cached mapping (after a variable changed)."""
        self._kept.clear()
