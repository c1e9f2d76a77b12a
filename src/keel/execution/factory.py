"""Choose the executor a worker uses, by ``Settings.executor``.

The backend module is imported only when chosen, so a worker on the local executor never imports
Ray (whose import alone takes about a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel.errors import ConfigError
from keel.execution.base import Executor

if TYPE_CHECKING:
    from keel.actions.registry import Registry
    from keel.config import Settings


def create_executor(settings: Settings, registry: Registry | None = None) -> Executor:
    """Return the executor ``settings.executor`` names (``local`` or ``ray``).

    Args:
        settings: The process settings.
        registry: Where actions are looked up; the default registry when None.

    Raises:
        ConfigError: The executor name is not one Keel knows.
    """
    if settings.executor == "local":
        from keel.execution.local import LocalExecutor

        return LocalExecutor(registry)
    if settings.executor == "ray":
        from keel.execution.ray import RayExecutor

        return RayExecutor(settings, registry)
    raise ConfigError(f"unknown executor {settings.executor!r}: use 'local' or 'ray'")
