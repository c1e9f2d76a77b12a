"""Durations the command line takes (``--older-than 30d``): a unit is required.

A workflow may write ``timeout: 30`` and mean seconds, but on a command line a bare ``30`` is
ambiguous (30 days? 30 seconds?) and a wrong guess deletes data; so a command refuses it and
asks for a unit, and echoes the duration back in words.
"""

from __future__ import annotations

import re

from keel.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAMES = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
_DURATION = re.compile(r"^(\d{1,9})\s*([smhdw])$")
_BARE = re.compile(r"^\d+(\.\d+)?$")


def parse_cli_duration(text: str, option: str) -> tuple[int, str]:
    """Return ``(seconds, words)`` of a duration such as ``30s``, ``30m``, ``12h``, ``30d``, ``2w``.

    Args:
        text: What the user typed.
        option: The option's name, for the error message (``--older-than``).

    Raises:
        ConfigError: ``text`` has no unit, an unknown unit, or is zero.
    """
    value = text.strip().lower()
    if _BARE.match(value):
        raise ConfigError(
            f"{option}: '{text}' has no unit; write e.g. {value}s, {value}m, {value}h or "
            f"{value}d (s = seconds, m = minutes, h = hours, d = days, w = weeks)"
        )
    match = _DURATION.match(value)
    if match is None:
        raise ConfigError(
            f"{option}: '{text}' is not a duration; write a whole number and a unit, e.g. 30s, "
            "30m, 12h, 30d or 2w"
        )
    number, unit = int(match.group(1)), match.group(2)
    if number == 0:
        raise ConfigError(f"{option}: '{text}' is zero; give a duration greater than zero")
    words = f"{number} {_NAMES[unit]}{'' if number == 1 else 's'}"
    return number * _UNITS[unit], words
