"""The ``FN.*`` function library of expressions.

Each function is a plain Python function registered with :func:`fn` under its spec name (and its
aliases). Its arity is derived from its signature, so the validator can check calls at commit time
and the evaluator can refuse a wrong number of arguments with a clear message. Functions raise
ordinary exceptions (``ValueError``, ``TypeError``, ...); the evaluator turns those into an
``ExpressionError`` that names the call.

The modules of this package register themselves when imported; :data:`FUNCTIONS` is complete once
this package is imported.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Function:
    """One FN library function.

    Attributes:
        name: The name used in expressions (``FN.<name>``).
        impl: The Python implementation.
        min_args: Fewest positional arguments a call may pass.
        max_args: Most positional arguments, or ``None`` when it takes ``*args``.
    """

    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None

    def arity_text(self) -> str:
        """Describe the accepted argument count for messages (``2``, ``1 to 3``, ``2 or more``)."""
        if self.max_args is None:
            return f"{self.min_args} or more"
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"

    def accepts(self, count: int) -> bool:
        """Return whether a call with ``count`` positional arguments is allowed."""
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)


FUNCTIONS: dict[str, Function] = {}


def _arity(impl: Callable[..., Any]) -> tuple[int, int | None]:
    low, high = 0, 0
    for param in inspect.signature(impl).parameters.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return low, None
        if param.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            high += 1
            if param.default is inspect.Parameter.empty:
                low += 1
    return low, high


def fn(name: str, *aliases: str) -> Callable[[F], F]:
    """Register the decorated function as ``FN.<name>`` (and ``FN.<alias>`` for each alias)."""

    def register(impl: F) -> F:
        low, high = _arity(impl)
        for key in (name, *aliases):
            if key in FUNCTIONS:
                raise ValueError(f"FN.{key} is registered twice")
            FUNCTIONS[key] = Function(key, impl, low, high)
        return impl

    return register


def lookup(name: str) -> Function | None:
    """Return the function registered as ``FN.<name>``, or ``None``."""
    return FUNCTIONS.get(name)


#: The modules that define functions; importing one registers its functions with `fn`.
MODULES = (
    "collections",
    "durations",
    "encoding",
    "identity",
    "json_yaml",
    "logic",
    "math",
    "network",
    "objects",
    "strings",
    "tables",
    "time",
)

# Imported here, at the bottom, on purpose: the modules import `fn` from this one.
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["FUNCTIONS", "MODULES", "Function", "fn", "lookup"]
