"""Turns pydantic's validation errors on a workflow document into :class:`Problem` objects.

Each pydantic error has a ``loc`` (the path to the bad value); from it come the line (through the
:class:`SourceMap`), the action ref (when the path goes through ``actions[i]``) and the field,
and from the error type a message written for the person editing the YAML.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from keel.dsl.diagnostics import Problem, closest
from keel.dsl.model import ACTION_PATTERN, REF_PATTERN, Workflow
from keel.dsl.source import SourceMap
from keel.dsl.values import describe_value

Loc = tuple[str | int, ...]

_PATTERN_HINTS = {
    REF_PATTERN: "lowercase letters, digits and underscores",
    ACTION_PATTERN: "lowercase letters, digits, underscores and dots",
}

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def problems_from_validation(
    error: ValidationError,
    data: Any,
    source: SourceMap,
    *,
    file: str | None = None,
    root: type[BaseModel] = Workflow,
) -> list[Problem]:
    """Return one problem per error in ``error``, located in the document ``data``.

    Args:
        error: What pydantic raised while validating ``data`` as ``root``.
        data: The document as plain data (to find the ref of the action an error is in).
        source: Lines of the document's nodes.
        file: The document's file name, if any.
        root: The model ``data`` was validated as (for "did you mean" hints on unknown keys).
    """
    problems = []
    for detail in error.errors(include_url=False):
        loc: Loc = tuple(detail["loc"])
        if len(loc) >= 2 and loc[-1] == "[key]":
            # The part before "[key]" is a mapping key, even when it is a number.
            loc = (*loc[:-2], str(loc[-2]), "[key]")
        ref, field = locate(loc, data)
        path = tuple(part for part in loc if part != "[key]")
        problems.append(
            Problem(
                _message(detail, loc, root),
                file=file,
                line=source.line(path),
                ref=ref,
                field=field,
            )
        )
    return problems


def locate(path: Sequence[str | int], data: Any) -> tuple[str | None, str | None]:
    """Return ``(action ref, dotted field)`` for a path into the document ``data``.

    Under ``actions[i]`` the ref is that action's (when it has a string ``ref``) and the field is
    relative to the action (``retry_policy.max_attempts``); elsewhere the field is the whole path.
    """
    parts = list(path)
    ref: str | None = None
    if len(parts) >= 2 and parts[0] == "actions" and isinstance(parts[1], int):
        actions = data.get("actions") if isinstance(data, Mapping) else None
        if isinstance(actions, list) and 0 <= parts[1] < len(actions):
            item = actions[parts[1]]
            if isinstance(item, Mapping) and isinstance(item.get("ref"), str):
                ref = item["ref"]
        parts = parts[2:]
    return ref, dotted(parts) or None


def dotted(parts: Sequence[str | int]) -> str:
    """Return a path as a field name: ``args.headers[0].name``."""
    text = ""
    for part in parts:
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(detail: ErrorDetails, loc: Loc, root: type[BaseModel]) -> str:
    kind = detail["type"]
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    value = detail["input"]
    if loc and loc[-1] == "[key]":
        return f"keys must be strings, got {describe_value(value)}"
    if kind == "missing":
        if loc == ("description",):
            return 'required field missing (it may be empty: description: "")'
        return "required field missing"
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]), _model_at(loc[:-1], root))
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        hint = _PATTERN_HINTS.get(pattern)
        extra = f" ({hint})" if hint else ""
        return f"must match {pattern}{extra}, got {value!r}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long, got {len(value):,}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}, got {describe_value(value)}"
    if kind in ("greater_than_equal", "greater_than"):
        sign, bound = (
            (">=", ctx.get("ge")) if kind == "greater_than_equal" else (">", ctx.get("gt"))
        )
        return f"must be {sign} {_number(bound)}, got {value!r}"
    if kind == "too_short":
        if loc == ("actions",):
            return "a workflow needs at least one action"
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", detail["msg"]))
    if kind in _TYPE_WORDS:
        if loc and loc[0] == "actions" and len(loc) == 2:
            return f"each action must be a mapping with ref and action, got {describe_value(value)}"
        return f"expected {_TYPE_WORDS[kind]}, got {describe_value(value)}"
    message = detail["msg"]
    return message[:1].lower() + message[1:]


def _number(value: Any) -> str:
    """Return a bound as written by a user: ``0`` rather than ``0.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unknown_field(name: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return f"unknown field '{name}'"
    allowed = sorted(model.model_fields)
    close = closest(name, allowed)
    if close:
        return f"unknown field '{name}'; did you mean '{close}'?"
    return f"unknown field '{name}' (allowed: {', '.join(allowed)})"


def _model_at(loc: Loc, root: type[BaseModel]) -> type[BaseModel] | None:
    """Return the model class that validates the value at ``loc``, by following field types."""
    current: Any = root
    for part in loc:
        current = _without_none(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return None
            current = info.annotation
            continue
        origin, args = get_origin(current), get_args(current)
        if origin is list and isinstance(part, int) and args:
            current = args[0]
        elif origin is dict and isinstance(part, str) and len(args) == 2:
            current = args[1]
        else:
            return None
    current = _without_none(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _without_none(annotation: Any) -> Any:
    """Return ``X`` for ``X | None`` (and ``Annotated``-free types unchanged)."""
    if get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation
