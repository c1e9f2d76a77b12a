"""The action registry: plain typed functions registered under dotted names.

An action is declared with :func:`action`::

    @action("core.transform.apply", pure=True)
    def apply(value: Any, python_lambda: Annotated[str, Doc("e.g. 'lambda x: x + 1'")]) -> Any:
        ...

and described by an :class:`ActionSpec`: its parameters, the JSON Schema of its arguments, and
the validation the engine runs before calling it. A :class:`Registry` satisfies
``keel.dsl.catalog.ActionCatalog``, so the validator can check workflows against it.
:func:`default_registry` is the process-wide registry: the core actions, then the user's own
(Python packages found through the ``keel.actions`` entry points, the modules named by
``KEEL_ACTION_MODULES``, and the templates under ``KEEL_TEMPLATE_PATHS``; see
:mod:`keel.actions.discovery`). Every process (CLI, API, worker, Ray worker) builds the same one.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from keel.actions.literals import literal_problems
from keel.actions.schema import (
    Doc,
    Parameter,
    build_model,
    did_you_mean,
    read_signature,
    validate,
)
from keel.actions.secrets import Secret, merge_declarations
from keel.dsl.catalog import ActionSignature, unavailable_tracecat_action
from keel.errors import RegistryError

__all__ = [
    "ActionSpec",
    "Doc",
    "LoadProblem",
    "Parameter",
    "Registry",
    "Secret",
    "action",
    "default_registry",
]

F = TypeVar("F", bound=Callable[..., Any])

#: A valid action name: dotted, lowercase, at least two parts (``core.http_request``).
ACTION_NAME = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

#: The modules holding the core actions, imported by :func:`default_registry`.
BUILTIN_MODULES = (
    "keel.actions.builtin.http",
    "keel.actions.builtin.nulls",
    "keel.actions.builtin.pagination",
    "keel.actions.builtin.regions",
    "keel.actions.builtin.require",
    "keel.actions.builtin.script",
    "keel.actions.builtin.text",
    "keel.actions.builtin.transform",
    "keel.actions.builtin.workflow",
)


@dataclass(frozen=True)
class LoadProblem:
    """A source of actions that failed to load: a module, an entry point or a template file.

    Attributes:
        source: What was being loaded (``module acme.actions``, ``templates/vt.yml:12``).
        message: Why it failed.
    """

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


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
        title: A short human title (``Look up an IP``); defaults to the name.
        display_group: A group to list it under (``VirusTotal``).
        secrets: The secrets it declares (resolved before each call; see
            :mod:`keel.actions.secrets`).
        kind: ``python`` (a decorated function) or ``template`` (a YAML action template).
        origin: Where it comes from: the function's module, or the template's file.
        steps: For a template, the actions its steps call (their secrets are added to its own).
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
    title: str = ""
    display_group: str = ""
    secrets: tuple[Secret, ...] = ()
    kind: Literal["python", "template"] = "python"
    origin: str = ""
    steps: tuple[str, ...] = ()

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        name: str,
        *,
        description: str = "",
        pure: bool = False,
        stateful: bool = False,
        title: str = "",
        display_group: str = "",
        secrets: Iterable[Secret | str] = (),
    ) -> ActionSpec:
        """Describe ``fn`` as action ``name``.

        Raises:
            RegistryError: The name is not dotted lowercase, or the signature cannot be used.
        """
        check_name(name)
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
            title=title,
            display_group=display_group,
            secrets=tuple(Secret.parse(s) for s in secrets),
            origin=f"{fn.__module__}.{fn.__qualname__}",
        )

    @property
    def namespace(self) -> str:
        """Return the dotted prefix of the name (``tools.virustotal`` of ``...lookup_ip``)."""
        return self.name.rsplit(".", 1)[0]

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
            check_literals=self.check_literals,
            lambda_args=frozenset(
                p.name for p in self.parameters if p.name in _lambda_parameters(self.name)
            ),
        )

    def check_literals(self, args: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Check arguments whose values are literals (no expression) against their types.

        Returns:
            ``(argument, message)`` for each literal of the wrong type; missing or unknown
            arguments are not reported here (the validator does that by name).
        """
        return literal_problems(self.args_model, self.parameters, args)


class Registry:
    """Actions by dotted name. Satisfies ``keel.dsl.catalog.ActionCatalog``."""

    def __init__(self) -> None:
        self._specs: dict[str, ActionSpec] = {}
        #: What failed to load into this registry (a module, an entry point, a template file).
        self.problems: list[LoadProblem] = []

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
            hint = unavailable_tracecat_action(name) or did_you_mean(name, set(self._specs))
            raise RegistryError(f"unknown action {name!r}{hint}")
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

    def required_secrets(self, name: str) -> tuple[Secret, ...]:
        """Return the secrets a call of ``name`` needs: its own, and its template steps' ones."""
        spec = self._specs.get(name)
        if spec is None:
            return ()
        groups: list[tuple[Secret, ...]] = [spec.secrets]
        seen = {name}
        pending = list(spec.steps)
        while pending:
            step = pending.pop()
            if step in seen:
                continue
            seen.add(step)
            inner = self._specs.get(step)
            if inner is not None:
                groups.append(inner.secrets)
                pending.extend(inner.steps)
        return merge_declarations(groups)

    def __contains__(self, name: object) -> bool:
        return name in self._specs


#: Parameters of core actions that hold python_lambda source (besides ``python_lambda``).
_CORE_LAMBDAS = frozenset({"poll_condition", "stop_condition", "next_request"})


def _lambda_parameters(name: str) -> frozenset[str]:
    """Return the parameter names that hold lambda source in action ``name``."""
    if name.startswith("core."):
        return _CORE_LAMBDAS | {"python_lambda"}
    return frozenset({"python_lambda"})


def check_name(name: str) -> None:
    """Refuse an action name that is not dotted lowercase words.

    Raises:
        RegistryError: Naming the name and the expected form.
    """
    if not ACTION_NAME.match(name):
        raise RegistryError(
            f"invalid action name {name!r}: use dotted lowercase words with a namespace, "
            "e.g. 'tools.virustotal.lookup_ip'"
        )


# Where @action registers when no registry is given; default_registry() returns it once the
# core modules are imported.
_PROCESS_REGISTRY = Registry()

# While discovery imports a user's module into a registry of its choice, @action without an
# explicit registry registers there (tests load extensions into fresh registries).
_TARGET: ContextVar[Registry | None] = ContextVar("keel_registry_target", default=None)


@contextlib.contextmanager
def registering_into(registry: Registry) -> Iterator[None]:
    """Make ``@action`` (without ``registry=``) register into ``registry`` inside the block."""
    token = _TARGET.set(registry)
    try:
        yield
    finally:
        _TARGET.reset(token)


def action(
    name: str,
    *,
    title: str = "",
    description: str = "",
    display_group: str = "",
    secrets: Iterable[Secret | str] = (),
    pure: bool = False,
    stateful: bool = False,
    registry: Registry | None = None,
) -> Callable[[F], F]:
    """Register the decorated function as action ``name``; the function is returned unchanged.

    Arguments are the function's keyword parameters; their types and descriptions (from
    ``Annotated[T, Doc("...")]`` or the docstring's ``Args:``) become the action's schema, and
    calls are validated against them, at commit time for literal values and before every call.

    Args:
        name: The dotted action name with its namespace (``tools.virustotal.lookup_ip``).
        title: A short human title; defaults to the name.
        description: What it does; defaults to the first paragraph of the docstring.
        display_group: A group to list it under (``VirusTotal``).
        secrets: Secrets it reads with :func:`keel.secret` (``Secret("vt", keys=["api_key"])``
            or a bare name); each call is refused, by name, when one is missing.
        pure: Deterministic with no I/O: the orchestrator may evaluate it inside the workflow.
        stateful: Uses the worker's own services (seen keys): always runs in the worker process.
        registry: Where to register; defaults to the process-wide registry.
    """

    def register(fn: F) -> F:
        spec = ActionSpec.from_function(
            fn,
            name,
            description=description,
            pure=pure,
            stateful=stateful,
            title=title,
            display_group=display_group,
            secrets=secrets,
        )
        target = registry or _TARGET.get() or _PROCESS_REGISTRY
        target.register(spec)
        return fn

    return register


@functools.cache
def default_registry() -> Registry:
    """Return the process-wide registry: the core actions, then the user's own.

    User actions come from the ``keel.actions`` entry points of installed packages, the modules
    named by ``KEEL_ACTION_MODULES`` and the templates under ``KEEL_TEMPLATE_PATHS``. One that
    fails to load is recorded in ``problems`` (and does not stop the others).
    """
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    from keel.actions.discovery import load_extensions
    from keel.config import get_settings

    settings = get_settings()
    load_extensions(
        _PROCESS_REGISTRY,
        modules=settings.action_module_names(),
        template_paths=settings.template_path_list(),
    )
    return _PROCESS_REGISTRY
