"""Where a run reads ``VARS`` from when it loads them itself: a provider protocol.

Runs started through the API get their ``VARS`` from the caller, read when the run starts. A
scheduled run is started by Temporal, long after its schedule was written, so it loads them
itself at its start (``RunRequest.load_variables``), through the ``keel.load_variables`` local
activity: a variable changed since the schedule was committed is seen by the next firing, and
the values are recorded in the run's history so a replay reads the same ones. The store-backed
provider is ``keel.store.variables.StoreVariables``.
"""

from __future__ import annotations

from typing import Any, Protocol


class VariablesProvider(Protocol):
    """Reads every variable of an environment."""

    async def get(self, environment: str) -> dict[str, dict[str, Any]]:
        """Return ``{name: values}`` for every variable of ``environment``."""
        ...


class NoVariables:
    """A provider with no variables at all."""

    async def get(self, environment: str) -> dict[str, dict[str, Any]]:
        """Return ``{}``: there are no variables."""
        return {}
