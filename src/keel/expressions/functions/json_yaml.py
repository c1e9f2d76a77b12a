"""FN functions that read and write JSON and YAML text."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
from typing import Any

import yaml

from keel.dsl.yaml_safety import describe
from keel.dsl.yaml_safety import load as load_yaml
from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_str
from keel.expressions.limits import current
from keel.expressions.sizes import deeper_than

SERIALIZE_FORMATS = ("json", "yaml")


def jsonable(value: Any) -> Any:
    """Convert what YAML or the time functions may produce into JSON-like values.

    Datetimes, dates and times become ISO 8601 strings, durations become seconds (a float), sets
    and tuples become lists and bytes become base64 text; dicts and lists are converted deeply.
    """
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _default(value: Any) -> Any:
    converted = jsonable(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return converted


def _dumps(value: Any, indent: int | None = None) -> str:
    separators = None if indent else (",", ":")
    try:
        return json.dumps(
            value, indent=indent, separators=separators, ensure_ascii=False, default=_default
        )
    except ValueError as exc:  # NaN is allowed by Python's json; circular refs are not
        raise ValueError(f"cannot serialize the value as JSON: {exc}") from exc


def _loads(fname: str, text: str) -> Any:
    try:
        return _shallow(fname, json.loads(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{fname}: invalid JSON: {exc}") from exc
    except RecursionError:
        raise ValueError(f"{fname}: the JSON is nested too deeply") from None


def _shallow(fname: str, value: Any) -> Any:
    """Return ``value`` unless it nests deeper than the limit (``Limits.max_depth``)."""
    limit = current().max_depth
    if deeper_than(value, limit):
        raise ValueError(f"{fname}: the value nests more than {limit} levels deep")
    return value


@fn("is_json")
def is_json(x: Any) -> bool:
    """Tell whether a value is a string holding valid JSON."""
    if not isinstance(x, str):
        return False
    try:
        json.loads(x)
    except (ValueError, RecursionError):
        return False
    return True


@fn("deserialize_json")
def deserialize_json(x: str) -> Any:
    """Parse a JSON string."""
    return _loads("deserialize_json", expect_str("deserialize_json", x, "JSON text"))


@fn("deserialize_ndjson")
def deserialize_ndjson(x: str) -> list[Any]:
    """Parse newline-delimited JSON (one value per line; blank lines are skipped)."""
    text = expect_str("deserialize_ndjson", x, "NDJSON text")
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            values.append(_loads(f"deserialize_ndjson (line {number})", line))
    return values


@fn("deserialize_yaml")
def deserialize_yaml(x: str) -> Any:
    """Parse a YAML string safely (dates become ISO strings).

    Aliases may add at most ``Limits.yaml_nodes`` nodes (``KEEL_YAML_ALIAS_NODES``), so a few
    hundred bytes cannot expand into millions of items.
    """
    text = expect_str("deserialize_yaml", x, "YAML text")
    try:
        data = load_yaml(text, max_alias_nodes=current().yaml_nodes)
        return jsonable(_shallow("deserialize_yaml", data))
    except yaml.YAMLError as exc:
        raise ValueError(f"deserialize_yaml: invalid YAML: {describe(exc)}") from exc


@fn("serialize_json")
def serialize_json(x: Any) -> str:
    """Write a value as compact JSON text."""
    return _dumps(x)


@fn("prettify_json")
def prettify_json(x: Any) -> str:
    """Write a value as JSON indented by two spaces; a string holding JSON is parsed first."""
    if isinstance(x, str):
        with contextlib.suppress(ValueError):
            x = json.loads(x)
    return _dumps(x, indent=2)


@fn("serialize_yaml")
def serialize_yaml(x: Any) -> str:
    """Write a value as block-style YAML text (keys in their order)."""
    try:
        return yaml.safe_dump(jsonable(x), sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as exc:
        raise ValueError(f"serialize_yaml: cannot serialize the value: {exc}") from exc


@fn("serialize")
def serialize(x: Any, fmt: str = "json") -> str:
    """Write a value as ``json`` (default, compact) or ``yaml`` text."""
    kind = expect_str("serialize", fmt, "a format name").lower()
    if kind == "json":
        return _dumps(x)
    if kind == "yaml":
        return serialize_yaml(x)
    raise ValueError(f"serialize format must be one of {', '.join(SERIALIZE_FORMATS)}, got '{fmt}'")
