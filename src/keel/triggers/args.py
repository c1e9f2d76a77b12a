"""Reads a trigger's ``args`` into a settings model: unknown keys warn, bad values fail clearly.

Tracecat documents carry trigger args Keel does not know; they must commit unchanged, so an
unknown key is a warning (``args.foo: unknown argument, ignored``), never an error. A bad value is
a :class:`~keel.errors.TriggerError` carrying one message per problem, each naming the argument.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from pydantic import AliasChoices, BaseModel, ValidationError

from keel.errors import TriggerError

M = TypeVar("M", bound=BaseModel)

_VALUE_ERROR = "Value error, "


def load_args(
    model: type[M], args: Mapping[str, Any] | None, ref: str | None = None
) -> tuple[M, list[str]]:
    """Validate a trigger's ``args`` as ``model``.

    Args:
        model: The settings model (its config should ignore extra keys).
        args: The trigger's ``args`` (``None`` reads as empty).
        ref: The trigger's ref, named in the error.

    Returns:
        The settings, and one warning per unknown key (nested keys included).

    Raises:
        TriggerError: A value is invalid; every problem is listed, each naming its argument.
    """
    data = dict(args or {})
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        raise TriggerError([_describe(error) for error in exc.errors()], ref) from None
    warnings = [f"{path}: unknown argument, ignored" for path in _unknown(model, data, "args")]
    return settings, warnings


def _describe(error: Any) -> str:
    path = ".".join(["args", *(str(part) for part in error["loc"])])
    message = str(error["msg"]).removeprefix(_VALUE_ERROR)
    return f"{path}: {message}"


def _unknown(model: type[BaseModel], data: Mapping[str, Any], path: str) -> Iterator[str]:
    """Yield the dotted path of every key of ``data`` that ``model`` (or a nested model) ignores."""
    fields = {}
    for name, info in model.model_fields.items():
        fields[name] = info.annotation
        for alias in _aliases(info.alias, info.validation_alias):
            fields[alias] = info.annotation
    for key, value in data.items():
        if key not in fields:
            yield f"{path}.{key}"
            continue
        nested = _model_in(fields[key])
        if nested is not None and isinstance(value, Mapping):
            yield from _unknown(nested, value, f"{path}.{key}")


def _aliases(alias: str | None, validation_alias: Any) -> Iterator[str]:
    if alias:
        yield alias
    if isinstance(validation_alias, str):
        yield validation_alias
    elif isinstance(validation_alias, AliasChoices):
        yield from (choice for choice in validation_alias.choices if isinstance(choice, str))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """Return the model class in ``annotation`` (``Model`` or ``Model | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
