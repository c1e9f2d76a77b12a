"""The "Run" form of a workflow, generated from its ``entrypoint.expects``.

Each field gets an input that fits its type (a number, a checkbox-like choice, a list of enum
values, a line of text) and anything structured (lists, dicts, unions, ``any``) a JSON text area.
The submitted form becomes the run's inputs; the API then checks them against ``expects`` as it
does for any client, and its 422 names each bad field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_ENUM = re.compile(r"^enum\[(.*)\]$", re.DOTALL)
#: The longest value one form field may carry (the API bounds the whole body too).
MAX_FIELD_CHARS = 1_000_000


@dataclass(frozen=True)
class FormField:
    """One input of the run form.

    Attributes:
        name: The ``expects`` field name.
        type: Its type, as written.
        kind: The widget: ``int``, ``float``, ``bool``, ``enum``, ``str`` or ``json``.
        description: Its description.
        required: Whether the run needs it (no default, not optional).
        value: The initial text of the input (the default, rendered for the widget).
        choices: The values of an ``enum``.
    """

    name: str
    type: str
    kind: str
    description: str
    required: bool
    value: str
    choices: tuple[str, ...] = ()


def form_fields(definition: dict[str, Any]) -> list[FormField]:
    """Return the run form's fields for a validated definition (JSON)."""
    expects = (definition.get("entrypoint") or {}).get("expects") or {}
    fields = []
    for name, spec in expects.items():
        type_ = str(spec.get("type") or "any").strip()
        default = spec.get("default")
        has_default = "default" in spec and default is not None
        kind, choices = _kind(type_)
        fields.append(
            FormField(
                name=name,
                type=type_,
                kind=kind,
                description=str(spec.get("description") or ""),
                required=not has_default and not spec.get("optional"),
                value=_render(default, kind) if has_default else "",
                choices=choices,
            )
        )
    return fields


def read_form(fields: list[FormField], form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Return the inputs a submitted form gives, and a message per field that cannot be read.

    An empty field is left out (its default applies, or the API says it is required).
    """
    inputs: dict[str, Any] = {}
    problems: list[str] = []
    for field in fields:
        text = form.get(f"input.{field.name}", "")
        if len(text) > MAX_FIELD_CHARS:
            problems.append(f"{field.name}: longer than {MAX_FIELD_CHARS} characters")
            continue
        if text.strip() == "":
            continue
        try:
            inputs[field.name] = _parse(text, field.kind)
        except ValueError as exc:
            problems.append(f"{field.name}: {exc}")
    return inputs, problems


def _kind(type_: str) -> tuple[str, tuple[str, ...]]:
    if type_ in ("int", "float", "bool", "str"):
        return type_, ()
    match = _ENUM.match(type_)
    if match:
        try:
            values = json.loads(f"[{match.group(1)}]")
        except ValueError:
            return "str", ()
        return "enum", tuple(str(v) for v in values)
    return ("str", ()) if type_ in ("datetime", "duration") else ("json", ())


def _render(value: Any, kind: str) -> str:
    if kind == "json":
        return json.dumps(value, indent=2)
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def _parse(text: str, kind: str) -> Any:
    if kind == "int":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {text.strip()[:40]!r}") from None
    if kind == "float":
        try:
            return float(text.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {text.strip()[:40]!r}") from None
    if kind == "bool":
        return text.strip().lower() == "true"
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc})") from None
    return text
