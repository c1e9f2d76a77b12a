"""Checks 5-field cron expressions before they reach Temporal, with messages naming the field.

Accepted (a subset of what Temporal Schedules accept, so anything that passes here is valid
there): five fields ``minute hour day-of-month month day-of-week``; in each, a comma-separated
list of ``*``, ``N``, ``N-M``, with an optional ``/step``; month names ``JAN``-``DEC`` and day
names ``SUN``-``SAT`` (any case); and the shorthands ``@yearly``, ``@monthly``, ``@weekly``,
``@daily`` and ``@hourly``. Day of week runs 0-6 with 0 = Sunday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MACROS = frozenset({"@yearly", "@monthly", "@weekly", "@daily", "@hourly"})

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_ITEM = re.compile(r"^(?P<range>\*|(?P<low>\w+)(?:-(?P<high>\w+))?)(?:/(?P<step>\d+))?$")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name: int = 0  # the value of names[0]


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day of week", 0, 6, _DAYS, 0),
)


def cron_problems(expression: str) -> list[str]:
    """Return what is wrong with a cron expression (empty when it is valid).

    Each message names the field and says what would be right, e.g.
    ``"cron '61 * * * *': minute 61 is outside 0-59"``.
    """
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() in MACROS:
            return []
        macros = ", ".join(sorted(MACROS))
        return [f"cron '{expression}': unknown shorthand {text} (use one of {macros})"]
    parts = text.split()
    if len(parts) != len(_FIELDS):
        return [
            f"cron '{expression}' has {len(parts)} field(s); "
            "expected 5: minute hour day-of-month month day-of-week"
        ]
    problems: list[str] = []
    for part, field in zip(parts, _FIELDS, strict=True):
        problems.extend(f"cron '{expression}': {p}" for p in _field_problems(part, field))
    return problems


def _field_problems(text: str, field: _Field) -> list[str]:
    problems: list[str] = []
    for item in text.split(","):
        match = _ITEM.match(item)
        if match is None:
            problems.append(f"{field.name} '{item}' is not *, N, N-M or a list of them")
            continue
        if match["step"] is not None and int(match["step"]) == 0:
            problems.append(f"{field.name} '{item}' has a step of 0")
        if match["range"] == "*":
            continue
        values: list[int] = []
        for token in (match["low"], match["high"]):
            if token is None:
                continue
            value = _value(token, field)
            if value is None:
                problems.append(_bad_value(token, field))
            else:
                values.append(value)
        if len(values) == 2 and values[0] > values[1]:
            problems.append(f"{field.name} range '{item}' runs backwards")
    return problems


def _value(token: str, field: _Field) -> int | None:
    if token.isdigit():
        value = int(token)
        return value if field.low <= value <= field.high else None
    upper = token.upper()
    if upper in field.names:
        return field.names.index(upper) + field.first_name
    return None


def _bad_value(token: str, field: _Field) -> str:
    if token.isdigit():
        sunday = " (0 = Sunday)" if field.names == _DAYS else ""
        return f"{field.name} {token} is outside {field.low}-{field.high}{sunday}"
    hint = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
    return f"{field.name} '{token}' is not a number in {field.low}-{field.high}{hint}"
