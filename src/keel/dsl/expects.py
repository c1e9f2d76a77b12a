"""Checks trigger input against ``entrypoint.expects``, and ``expects`` itself at commit time.

:func:`check_inputs` runs before a run starts (webhook, CLI, schedule): it returns the input with
defaults applied and one message per bad field, so no run starts on input it cannot use.
:func:`validate_expects` finds the mistakes in the schema itself (bad type strings, defaults that
do not match their type) when a workflow is validated.

Input semantics (Tracecat's, made explicit): a field with a ``default`` or ``optional: true`` may be
missing; fields not in ``expects`` are allowed and kept; ``null`` is accepted when the type allows
``None`` or when the field may be missing anyway (optional, or ``default: null``); values are
checked, never converted (a ``datetime`` stays the ISO string it was sent as).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from keel.dsl.diagnostics import Problem
from keel.dsl.model import ExpectedField
from keel.dsl.source import SourceMap
from keel.dsl.typespec import (
    DictOf,
    EnumOf,
    ListOf,
    Scalar,
    TypeSpec,
    TypeSyntaxError,
    UnionOf,
    mismatches,
    parse_type,
)
from keel.dsl.values import describe_value

_EXPECTS_PATH = ("entrypoint", "expects")


def check_inputs(expects: Mapping[str, ExpectedField], payload: Any) -> tuple[Any, list[str]]:
    """Check a trigger payload against ``expects`` and apply the defaults.

    Args:
        expects: The workflow's ``entrypoint.expects``.
        payload: The trigger input (JSON data); ``None`` counts as an empty object.

    Returns:
        The payload with defaults applied (a new dict; the input is not changed), and one message
        per problem, each naming the field: ``"field 'score': expected int, got str 'abc'"``.
        With an empty ``expects`` the payload is returned as it is, whatever it is.
    """
    if not expects:
        return payload, []
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        names = ", ".join(expects)
        return payload, [
            f"the input must be a JSON object with the fields {names}; "
            f"got {describe_value(payload)}"
        ]
    result = dict(payload)
    messages: list[str] = []
    for name, spec in expects.items():
        if name not in payload:
            if spec.has_default:
                result[name] = copy.deepcopy(spec.default)
            elif not spec.optional:
                messages.append(f"field '{name}': required field missing")
            continue
        value = payload[name]
        if value is None and (spec.optional or (spec.has_default and spec.default is None)):
            continue
        messages.extend(_field_messages(name, spec, value))
    return result, messages


def validate_expects(
    expects: Mapping[str, ExpectedField],
    source: SourceMap | None = None,
    *,
    file: str | None = None,
) -> list[Problem]:
    """Return the problems of an ``expects`` schema: bad type strings and mismatched defaults.

    Args:
        expects: The workflow's ``entrypoint.expects``.
        source: The document's source map, so that problems carry lines.
        file: The document's file name, for the problems.
    """
    source = source or SourceMap()
    problems = []
    for name, spec in expects.items():
        for key, message in _field_problems(name, spec):
            path = (*_EXPECTS_PATH, name, key)
            problems.append(
                Problem(message, file=file, line=source.line(path), field=".".join(path))
            )
    return problems


def _field_messages(name: str, spec: ExpectedField, value: Any) -> Iterator[str]:
    try:
        parsed = parse_type(spec.type)
    except TypeSyntaxError as exc:
        yield f"field '{name}': the workflow's expects has an invalid type: {exc}"
        return
    for inner, message in mismatches(parsed, value):
        yield f"field '{name}{_suffix(inner)}': {message}"


def _field_problems(name: str, spec: ExpectedField) -> Iterator[tuple[str, str]]:
    try:
        parsed = parse_type(spec.type)
    except TypeSyntaxError as exc:
        yield "type", f"field '{name}': {exc}"
        return
    yield from (("type", f"field '{name}': {m}") for m in _key_type_problems(parsed))
    # `default: null` means "None when missing" for any type, so it is never a mismatch.
    if spec.has_default and spec.default is not None:
        for inner, message in mismatches(parsed, spec.default):
            yield "default", f"field '{name}': default{_suffix(inner)} does not match: {message}"


def _key_type_problems(spec: TypeSpec) -> Iterator[str]:
    """Yield a message for each ``dict[K, V]`` whose keys could never match (JSON keys are str)."""
    if isinstance(spec, DictOf):
        if not _allows_strings(spec.key):
            yield (
                f"dict keys of {spec} can never match: JSON object keys are strings; "
                f"use dict[str, {spec.value}]"
            )
        yield from _key_type_problems(spec.value)
    elif isinstance(spec, UnionOf):
        for option in spec.options:
            yield from _key_type_problems(option)
    elif isinstance(spec, ListOf):
        yield from _key_type_problems(spec.item)


def _allows_strings(spec: TypeSpec) -> bool:
    if isinstance(spec, UnionOf):
        return any(_allows_strings(option) for option in spec.options)
    if isinstance(spec, EnumOf):
        return True
    return isinstance(spec, Scalar) and spec.name in ("str", "any", "datetime", "duration")


def _suffix(inner: str) -> str:
    if not inner:
        return ""
    return inner if inner.startswith("[") else f".{inner}"
