"""Reads durations as workflows write them: seconds, ``"15m"``, ``"1h30m"`` or ISO 8601 ``PT1H``."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = r"\d+(?:\.\d+)?"
_SHORT = re.compile(rf"^(?:\s*{_NUMBER}\s*(?:ms|w|d|h|m|s)\s*)+$")
_SHORT_PART = re.compile(rf"({_NUMBER})\s*(ms|w|d|h|m|s)")
_ISO = re.compile(
    rf"^P(?:(?P<w>{_NUMBER})W)?(?:(?P<d>{_NUMBER})D)?"
    rf"(?:T(?:(?P<h>{_NUMBER})H)?(?:(?P<m>{_NUMBER})M)?(?:(?P<s>{_NUMBER})S)?)?$"
)
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_duration(value: object) -> float | None:
    """Return a duration in seconds, or ``None`` if ``value`` is not one.

    Accepted: a non-negative number of seconds (not a bool), a numeric string, the short form
    (``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"``, ``"1w"``, ``"500ms"``, spaces allowed between
    parts), ISO 8601 without years or months (``"PT1H30M"``, ``"P1DT12H"``, ``"P2W"``) and
    ``"[H:]MM:SS"``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(_NUMBER, text):
        return float(text)
    if _SHORT.match(text):
        return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _SHORT_PART.findall(text))
    iso = _ISO.match(text.upper())
    if iso and text.upper() not in ("P", "PT") and not text.upper().endswith("T"):
        return sum(float(n) * _UNIT_SECONDS[unit] for unit, n in iso.groupdict().items() if n)
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        return float(hours or 0) * 3600 + float(minutes) * 60 + float(seconds)
    return None
