"""Keel: durable workflow automation. Workflows are YAML DAGs of actions, run on Temporal.

The public API for writing actions is importable from here::

    from typing import Annotated
    from keel import Doc, Secret, action, secret

The names load lazily (PEP 562), so importing ``keel.dsl`` or ``keel.expressions`` (inside
Temporal's workflow sandbox, too) does not import the action registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Doc", "Secret", "__version__", "action", "secret"]

if TYPE_CHECKING:
    from keel.actions.registry import action
    from keel.actions.schema import Doc
    from keel.actions.secrets import Secret, secret

_LAZY = {
    "action": ("keel.actions.registry", "action"),
    "Doc": ("keel.actions.schema", "Doc"),
    "Secret": ("keel.actions.secrets", "Secret"),
    "secret": ("keel.actions.secrets", "secret"),
}


def __getattr__(name: str) -> Any:
    """Import the public action API on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'keel' has no attribute {name!r}")
    import importlib

    module, attribute = _LAZY[name]
    return getattr(importlib.import_module(module), attribute)
