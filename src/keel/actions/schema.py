"""From an action's Python signature to its parameters, its argument model and its checks.

An action is a plain typed function. Its parameters (names, types, defaults, descriptions) are read
from the signature; descriptions come from ``Annotated[T, Doc("...")]`` (a plain string in the
``Annotated`` metadata works too), or else from the ``Args:`` section of its Google docstring.
One pydantic model per action, built here once, gives both the JSON Schema of the arguments and
their validation.

Validation uses pydantic's *lax* mode, the same for every action: JSON-shaped values that mean
the declared type are accepted and converted (``"3"`` or ``3.0`` for an ``int``, ``3`` for a
``float``, ``"true"``/``1`` for a ``bool``, a tuple for a ``list``), while values of another kind
are refused (an ``int`` is not a ``str``; ``"abc"`` is not an ``int``).

Errors name the argument, the type it must have and the type it got, never the value: an
argument may carry a secret, and its error travels to the run's history, events and API answers.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from keel.dsl.diagnostics import closest
from keel.errors import ActionArgumentError, RegistryError


@dataclass(frozen=True)
class Doc:
    """Describes an action parameter: ``Annotated[str, Doc("The URL to call")]``."""

    text: str


@dataclass(frozen=True)
class Parameter:
    """One argument an action accepts.

    Attributes:
        name: The argument name.
        annotation_text: Its type as a reader would write it (``str | list[str]``).
        required: Whether a call must give it.
        default: Its default value (``None`` when required).
        description: What it is for.
    """

    name: str
    annotation_text: str
    required: bool
    default: Any
    description: str


@dataclass(frozen=True)
class Signature:
    """What :func:`read_signature` learned from a function.

    Attributes:
        parameters: The keyword parameters, in order.
        annotations: The type of each parameter (``Annotated`` kept), by name.
        accepts_any: Whether the function takes ``**kwargs``.
        description: The first paragraph of the docstring.
    """

    parameters: tuple[Parameter, ...]
    annotations: dict[str, Any]
    accepts_any: bool
    description: str


def read_signature(name: str, fn: Callable[..., Any]) -> Signature:
    """Read the parameters of ``fn``, to be registered as action ``name``.

    Raises:
        RegistryError: A parameter cannot be passed by keyword, or a type does not resolve.
    """
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # a NameError or TypeError from an annotation that does not resolve
        raise RegistryError(f"action {name}: cannot resolve its type hints: {exc}") from exc
    docstring = inspect.getdoc(fn) or ""
    documented = _docstring_args(docstring)
    parameters: list[Parameter] = []
    annotations: dict[str, Any] = {}
    accepts_any = False
    for param in inspect.signature(fn).parameters.values():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_any = True
            continue
        if param.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL):
            raise RegistryError(
                f"action {name}: parameter {param.name!r} cannot be passed by keyword; "
                "actions take keyword arguments only"
            )
        annotation = hints.get(param.name, Any)
        required = param.default is inspect.Parameter.empty
        parameters.append(
            Parameter(
                name=param.name,
                annotation_text=type_text(annotation),
                required=required,
                default=None if required else param.default,
                description=_annotated_doc(annotation) or documented.get(param.name, ""),
            )
        )
        annotations[param.name] = annotation
    summary = " ".join(docstring.split("\n\n", 1)[0].split())
    return Signature(tuple(parameters), annotations, accepts_any, summary)


def build_model(name: str, signature: Signature) -> type[BaseModel]:
    """Build the pydantic model of the arguments of action ``name``."""
    # Fields get neutral names and the argument name as alias, so that arguments called `json`,
    # `schema` or `model_name` neither shadow BaseModel attributes nor trip pydantic warnings.
    fields: dict[str, Any] = {}
    for index, param in enumerate(signature.parameters):
        options: dict[str, Any] = {"alias": param.name}
        if param.description:
            options["description"] = param.description
        if not param.required:
            options["default"] = param.default
        fields[f"arg_{index}"] = (signature.annotations[param.name], Field(**options))
    config = ConfigDict(
        title=name,
        extra="allow" if signature.accepts_any else "forbid",
        arbitrary_types_allowed=True,
    )
    model_name = "Args_" + name.replace(".", "_")
    model: type[BaseModel] = create_model(model_name, __config__=config, **fields)
    return model


def validate(
    name: str,
    model: type[BaseModel],
    parameters: tuple[Parameter, ...],
    accepts_any: bool,
    args: Mapping[str, Any],
) -> dict[str, Any]:
    """Validate ``args`` against ``model``; return the validated keyword arguments.

    Only the arguments given are returned (defaults stay with the function); under
    ``**kwargs``, unknown arguments pass through unchanged.

    Raises:
        ActionArgumentError: Naming every bad argument: unknown, missing or of the wrong type.
    """
    by_name = {p.name: p for p in parameters}
    problems = [] if accepts_any else [_unknown(k, by_name) for k in args if k not in by_name]
    known = {k: v for k, v in args.items() if k in by_name}
    try:
        validated = model.model_validate(known)
    except ValidationError as exc:
        problems += _type_problems(exc, by_name, args)
        raise ActionArgumentError(name, problems) from None
    if problems:
        raise ActionArgumentError(name, problems)
    fields = {info.alias or key: key for key, info in type(validated).model_fields.items()}
    result = {
        alias: getattr(validated, key)
        for alias, key in fields.items()
        if key in validated.model_fields_set
    }
    if accepts_any:
        result.update((k, v) for k, v in args.items() if k not in by_name)
    return result


def type_text(annotation: Any) -> str:
    """Render a type annotation as a reader would write it (``dict[str, Any] | None``)."""
    if annotation is Any:
        return "Any"
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return type_text(args[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin is Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{', '.join(type_text(a) for a in args)}]" if args else base
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).removeprefix("typing.")


def did_you_mean(word: str, choices: list[str] | set[str] | frozenset[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def _annotated_doc(annotation: Any) -> str:
    if get_origin(annotation) is not Annotated:
        return ""
    for meta in annotation.__metadata__:
        if isinstance(meta, Doc):
            return meta.text
        if isinstance(meta, str):
            return meta
        documentation = getattr(meta, "documentation", None)  # typing_extensions.Doc (PEP 727)
        if isinstance(documentation, str):
            return documentation
    return ""


_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters):\s*$")
_ENTRY = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _docstring_args(docstring: str) -> dict[str, str]:
    """Read the ``Args:`` section of a Google docstring: ``{name: description}``."""
    found: dict[str, str] = {}
    lines = docstring.splitlines()
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line)), None)
    if start is None:
        return found
    header_indent = len(lines[start]) - len(lines[start].lstrip())
    entry_indent: int | None = None
    current: str | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= header_indent:
            break  # the next section
        entry_indent = indent if entry_indent is None else entry_indent
        match = _ENTRY.match(line.strip())
        if indent == entry_indent and match:
            current = match.group(1)
            found[current] = match.group(2)
        elif current is not None:
            found[current] = f"{found[current]} {line.strip()}".strip()
    return found


def _unknown(key: str, by_name: Mapping[str, Parameter]) -> str:
    hint = did_you_mean(key, set(by_name))
    if not hint:
        hint = f" (accepted: {', '.join(by_name) or 'none'})"
    return f"unknown argument {key!r}{hint}"


def _type_problems(
    exc: ValidationError, by_name: Mapping[str, Parameter], args: Mapping[str, Any]
) -> list[str]:
    """Turn pydantic's errors into one message per bad argument."""
    grouped: dict[str, list[Any]] = {}
    for error in exc.errors():
        if error["loc"]:
            grouped.setdefault(str(error["loc"][0]), []).append(error)
    problems: list[str] = []
    for key, errors in grouped.items():
        param = by_name.get(key)
        expected = param.annotation_text if param else "?"
        if any(e["type"] == "missing" for e in errors):
            problems.append(f"missing required argument {key!r} ({expected})")
            continue
        message = f"argument {key!r} must be {expected}, got {_kind(args.get(key))}"
        nested = [e for e in errors if len(e["loc"]) > 1]
        # Under a union, pydantic reports one error per member: the expected type says enough.
        if nested and len(nested) == len(errors) and " | " not in expected:
            first = nested[0]
            where = "".join(f"[{p!r}]" for p in first["loc"][1:])
            message += f" (at {key}{where}: {first['msg']})"
        problems.append(message)
    return problems


def _kind(value: Any) -> str:
    """Describe a value without showing it (it may be a secret): its type, and a text's length."""
    if isinstance(value, str | bytes):
        return f"{type(value).__name__} of length {len(value)}"
    if isinstance(value, list | tuple | dict | set):
        return f"{type(value).__name__} of {len(value)} item(s)"
    return type(value).__name__
