"""Commit-time type checks of the arguments a workflow gives as literals.

A value written in the document (``args: {url: {a: 1}}``) is known at commit time, so a type
mismatch with the action's signature (a mapping where a string is required) is refused then, with
the argument named, instead of failing the first run. Values that hold an expression anywhere
inside are only known at run time and are left to the check before each call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from keel.actions.schema import Parameter

_EXPRESSION = "${{"


def has_expression(value: Any) -> bool:
    """Return whether ``value`` holds an expression anywhere inside (strings, lists, mappings)."""
    if isinstance(value, str):
        return _EXPRESSION in value
    if isinstance(value, Mapping):
        return any(has_expression(k) or has_expression(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_expression(v) for v in value)
    return False


def literal_problems(
    model: type[BaseModel], parameters: tuple[Parameter, ...], args: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Return ``(argument, message)`` for each literal argument that does not fit its type.

    Missing and unknown arguments are not reported (the validator names those itself).
    """
    by_name = {p.name: p for p in parameters}
    literals = {k: v for k, v in args.items() if k in by_name and not has_expression(v)}
    if not literals:
        return []
    try:
        model.model_validate(literals)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for error in exc.errors():
            if not error["loc"] or error["type"] == "missing":
                continue
            name = str(error["loc"][0])
            if name not in literals or name in problems:
                continue
            expected = by_name[name].annotation_text
            problems[name] = f"argument '{name}' must be {expected}, got {_kind(literals[name])}"
        return sorted(problems.items())
    return []


def _kind(value: Any) -> str:
    """Name the kind of a literal the way a workflow author writes it (never its value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__
