"""FN duration functions: building ``timedelta`` values, differences, working hours, FILETIME."""

from __future__ import annotations

import datetime as dt
from typing import Any

from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_bool, expect_int, expect_number, expect_str
from keel.expressions.functions.time import UTC, as_utc, coerce_datetime, to_zone

#: The start of the Windows FILETIME epoch (counted in 100-nanosecond ticks).
FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=UTC)


def _duration(fname: str, n: Any, unit: str) -> dt.timedelta:
    amount = expect_number(fname, n)
    try:
        return dt.timedelta(**{unit: amount})
    except OverflowError:
        raise ValueError(f"{fname}: {amount} {unit} is out of range") from None


@fn("seconds")
def seconds(n: float) -> dt.timedelta:
    """Return a duration of ``n`` seconds."""
    return _duration("seconds", n, "seconds")


@fn("minutes")
def minutes(n: float) -> dt.timedelta:
    """Return a duration of ``n`` minutes."""
    return _duration("minutes", n, "minutes")


@fn("hours")
def hours(n: float) -> dt.timedelta:
    """Return a duration of ``n`` hours."""
    return _duration("hours", n, "hours")


@fn("days")
def days(n: float) -> dt.timedelta:
    """Return a duration of ``n`` days."""
    return _duration("days", n, "days")


@fn("weeks")
def weeks(n: float) -> dt.timedelta:
    """Return a duration of ``n`` weeks."""
    return _duration("weeks", n, "weeks")


def _between(fname: str, a: Any, b: Any) -> float:
    """Return ``b - a`` in seconds; a naive datetime is taken to be UTC."""
    start, end = coerce_datetime(fname, a), coerce_datetime(fname, b)
    if (start.tzinfo is None) != (end.tzinfo is None):
        start, end = as_utc(start), as_utc(end)
    return (end - start).total_seconds()


@fn("seconds_between")
def seconds_between(a: Any, b: Any) -> float:
    """Return the seconds from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    return _between("seconds_between", a, b)


@fn("minutes_between")
def minutes_between(a: Any, b: Any) -> float:
    """Return the minutes from ``a`` to ``b``."""
    return _between("minutes_between", a, b) / 60


@fn("hours_between")
def hours_between(a: Any, b: Any) -> float:
    """Return the hours from ``a`` to ``b``."""
    return _between("hours_between", a, b) / 3_600


@fn("days_between")
def days_between(a: Any, b: Any) -> float:
    """Return the days from ``a`` to ``b``."""
    return _between("days_between", a, b) / 86_400


@fn("weeks_between")
def weeks_between(a: Any, b: Any) -> float:
    """Return the weeks from ``a`` to ``b``."""
    return _between("weeks_between", a, b) / 604_800


def _clock_time(fname: str, value: Any) -> dt.time:
    text = expect_str(fname, value, "a time like '09:00'")
    try:
        return dt.time.fromisoformat(text.strip()).replace(tzinfo=None)
    except ValueError:
        raise ValueError(f"{fname} expects a time like '09:00', got '{text}'") from None


@fn("is_working_hours")
def is_working_hours(
    x: Any,
    start: str,
    end: str,
    include_weekends: bool = False,
    timezone: str | None = None,
) -> bool:
    """Tell whether a datetime falls between ``start`` and ``end`` (``HH:MM``, both included).

    The datetime is first converted to ``timezone`` when given (a naive one is taken to be UTC).
    Saturdays and Sundays are outside working hours unless ``include_weekends`` is true. A
    ``start`` later than ``end`` describes a shift across midnight (``22:00`` to ``06:00``).
    """
    name = "is_working_hours"
    value = coerce_datetime(name, x)
    if timezone is not None:
        value = as_utc(value).astimezone(to_zone(name, timezone))
    first, last = _clock_time(name, start), _clock_time(name, end)
    if (
        not expect_bool(name, include_weekends, "a boolean include_weekends")
        and value.weekday() >= 5
    ):
        return False
    moment = value.time()
    if first <= last:
        return first <= moment <= last
    return moment >= first or moment <= last


@fn("windows_filetime")
def windows_filetime(x: int) -> dt.datetime:
    """Turn a Windows FILETIME (100-ns ticks since 1601-01-01 UTC) into an aware UTC datetime."""
    ticks = expect_int("windows_filetime", x, "an integer FILETIME")
    try:
        return FILETIME_EPOCH + dt.timedelta(microseconds=ticks // 10)
    except OverflowError:
        raise ValueError(f"windows_filetime: {ticks} is out of range") from None
