"""The action registry: plain typed functions registered under dotted names.

An action is declared with :func:`action`::

    @action("core.transform.apply", pure=True)
    def apply(value: Any, python_lambda: Annotated[str, Doc("e.g. 'lambda x: x + 1'")]) -> Any:
        ...

and described by an :class:`ActionSpec`: its parameters, the JSON Schema of its arguments, and
the validation the engine runs before calling it. A :class:`Registry` satisfies
``keel.dsl.catalog.ActionCatalog``, so the validator can check workflows against it.
:func:`default_registry` is the process-wide registry holding the core actions.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from keel.actions.schema import (
    Doc,
    Parameter,
    build_model,
    did_you_mean,
    read_signature,
    validate,
)
from keel.dsl.catalog import ActionSignature
from keel.errors import RegistryError

__all__ = ["ActionSpec", "Doc", "Parameter", "Registry", "action", "default_registry"]

F = TypeVar("F", bound=Callable[..., Any])

#: A valid action name: dotted, lowercase, at least two parts (``core.http_request``).
ACTION_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

#: The modules holding the core actions, imported by :func:`default_registry`.
BUILTIN_MODULES = (
    "keel.actions.builtin.http",
    "keel.actions.builtin.regions",
    "keel.actions.builtin.text",
    "keel.actions.builtin.transform",
    "keel.actions.builtin.workflow",
)


@dataclass(frozen=True)
class ActionSpec:
    """Everything Keel knows about one action.

    Attributes:
        name: The dotted action name.
        fn: The function that implements it (sync or async).
        description: What it does (defaults to the first paragraph of its docstring).
        parameters: Its keyword parameters, in order.
        is_async: Whether ``fn`` is a coroutine function.
        pure: Whether it is deterministic and does no I/O, so the orchestrator may evaluate it
            inside the Temporal workflow.
        stateful: Whether it uses the worker's own services (the seen-keys store of
            :mod:`keel.actions.seen_keys`), so every executor runs it in the worker process.
        accepts_any: Whether ``fn`` takes ``**kwargs`` (then unknown arguments are allowed).
        args_model: The pydantic model of its arguments (built once, at registration).
    """

    name: str
    fn: Callable[..., Any]
    description: str
    parameters: tuple[Parameter, ...]
    is_async: bool
    pure: bool
    accepts_any: bool
    args_model: type[BaseModel] = field(repr=False, compare=False)
    stateful: bool = False

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        name: str,
        *,
        description: str = "",
        pure: bool = False,
        stateful: bool = False,
    ) -> ActionSpec:
        """Describe ``fn`` as action ``name``.

        Raises:
            RegistryError: The name is not dotted lowercase, or the signature cannot be used.
        """
        if not ACTION_NAME.match(name):
            raise RegistryError(
                f"invalid action name {name!r}: "
                "use dotted lowercase words, e.g. 'core.http_request'"
            )
        signature = read_signature(name, fn)
        return cls(
            name=name,
            fn=fn,
            description=description or signature.description,
            parameters=signature.parameters,
            is_async=inspect.iscoroutinefunction(fn),
            pure=pure,
            accepts_any=signature.accepts_any,
            args_model=build_model(name, signature),
            stateful=stateful,
        )

    def args_schema(self) -> dict[str, Any]:
        """Return the JSON Schema of the action's arguments."""
        return self.args_model.model_json_schema()

    def validate_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a call's arguments (pydantic lax mode); return the validated kwargs.

        Only the arguments given are returned; defaults are left to the function.

        Raises:
            ActionArgumentError: Naming every bad argument: unknown (with a "did you mean"),
                missing, or of the wrong type (with the expected type).
        """
        return validate(self.name, self.args_model, self.parameters, self.accepts_any, args)

    def signature(self) -> ActionSignature:
        """Return the argument names, as the workflow validator needs them."""
        return ActionSignature(
            name=self.name,
            required=frozenset(p.name for p in self.parameters if p.required),
            optional=frozenset(p.name for p in self.parameters if not p.required),
            accepts_any=self.accepts_any,
        )


class Registry:
    """Actions by dotted name. Satisfies ``keel.dsl.catalog.ActionCatalog``."""

    def __init__(self) -> None:
        self._specs: dict[str, ActionSpec] = {}

    def register(self, spec: ActionSpec) -> ActionSpec:
        """Add ``spec``; return it.

        Raises:
            RegistryError: An action of that name is already registered.
        """
        existing = self._specs.get(spec.name)
        if existing is not None:
            where = f"{existing.fn.__module__}.{existing.fn.__qualname__}"
            raise RegistryError(f"action {spec.name!r} is already registered (by {where})")
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> ActionSpec:
        """Return the action called ``name``.

        Raises:
            RegistryError: No such action (the message suggests the closest name).
        """
        spec = self._specs.get(name)
        if spec is None:
            raise RegistryError(f"unknown action {name!r}{did_you_mean(name, set(self._specs))}")
        return spec

    def find(self, name: str) -> ActionSpec | None:
        """Return the action called ``name``, or ``None``."""
        return self._specs.get(name)

    def names(self) -> list[str]:
        """Return every registered action name, sorted."""
        return sorted(self._specs)

    def specs(self) -> list[ActionSpec]:
        """Return every registered action, sorted by name."""
        return [self._specs[name] for name in self.names()]

    def signature(self, name: str) -> ActionSignature | None:
        """Return the signature of action ``name``, or ``None`` when it is not registered."""
        spec = self._specs.get(name)
        return None if spec is None else spec.signature()

    def __contains__(self, name: object) -> bool:
        return name in self._specs


# Where @action registers when no registry is given; default_registry() returns it once the
# core modules are imported.
_PROCESS_REGISTRY = Registry()


def action(
    name: str,
    *,
    description: str = "",
    pure: bool = False,
    stateful: bool = False,
    registry: Registry | None = None,
) -> Callable[[F], F]:
    """Register the decorated function as action ``name``; the function is returned unchanged.

    Args:
        name: The dotted action name (``core.transform.reshape``).
        description: What it does; defaults to the first paragraph of the docstring.
        pure: Deterministic with no I/O: the orchestrator may evaluate it inside the workflow.
        stateful: Uses the worker's own services (seen keys): always runs in the worker process.
        registry: Where to register; defaults to the process-wide registry.
    """

    def register(fn: F) -> F:
        spec = ActionSpec.from_function(
            fn, name, description=description, pure=pure, stateful=stateful
        )
        (_PROCESS_REGISTRY if registry is None else registry).register(spec)
        return fn

    return register


@functools.cache
def default_registry() -> Registry:
    """Return the process-wide registry, with the core actions loaded."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return _PROCESS_REGISTRY
