"""FN time functions: the clock, building, parsing, converting and formatting datetimes.

Datetimes may be given as ``datetime`` values, ISO 8601 strings or (where it makes sense) Unix
timestamps in seconds. A naive datetime (one without a time zone) is taken to be in UTC, the zone
of ``FN.now``. Durations and differences are in :mod:`keel.expressions.functions.durations`.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as dateutil_parser

from keel.expressions.clock import now_utc
from keel.expressions.functions import fn
from keel.expressions.functions.arguments import expect_int, expect_number, expect_str, type_name

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
#: Unix timestamp units and how many of them make one second.
UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
#: English month names, for ``get_month(x, "full")`` (not the machine's locale).
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def to_zone(fname: str, name: Any) -> dt.tzinfo:
    """Turn an IANA name (``Europe/Paris``), ``UTC`` or an offset (``+02:00``) into a time zone."""
    text = expect_str(fname, name, "a time zone name").strip()
    if text.upper() in ("UTC", "Z"):
        return UTC
    offset = _OFFSET.match(text)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        delta = dt.timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        return dt.timezone(sign * delta)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{fname}: unknown time zone '{text}'") from None


def as_utc(value: dt.datetime) -> dt.datetime:
    """Return an aware datetime: naive ones are taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _parse_text(fname: str, text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    # Missing fields are filled from today's date on the run's clock, never the host's.
    default = _clock().replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dateutil_parser.parse(text, default=default)
    except (ValueError, OverflowError):
        raise ValueError(f"{fname} expects an ISO 8601 date-time, got '{text}'") from None


def coerce_datetime(fname: str, value: Any) -> dt.datetime:
    """Accept a datetime, a date, an ISO 8601 (or similar) string or a Unix timestamp in seconds."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return _parse_text(fname, value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_seconds(fname, value)
    raise TypeError(
        f"{fname} expects a datetime, an ISO 8601 string or a timestamp, got {type_name(value)}"
    )


def _from_seconds(fname: str, seconds: float) -> dt.datetime:
    try:
        return EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{fname}: timestamp {seconds} is out of range") from None


def _clock() -> dt.datetime:
    """Return the clock's time as an aware UTC datetime (a naive clock reading is UTC)."""
    return as_utc(now_utc()).astimezone(UTC)


@fn("now")
def now(as_isoformat: bool = False) -> dt.datetime | str:
    """Return the current time in UTC as a naive datetime (the run's clock inside a workflow).

    With ``as_isoformat`` true (Tracecat's argument), the ISO 8601 text instead.
    """
    value = _clock().replace(tzinfo=None)
    return value.isoformat() if as_isoformat else value


@fn("utcnow")
def utcnow(as_isoformat: bool = False) -> dt.datetime | str:
    """Return the current time as an aware UTC datetime (the run's clock inside a workflow).

    With ``as_isoformat`` true (Tracecat's argument), the ISO 8601 text instead.
    """
    value = _clock()
    return value.isoformat() if as_isoformat else value


@fn("today")
def today() -> dt.date:
    """Return today's date in UTC (the run's clock inside a workflow)."""
    return _clock().date()


@fn("wall_clock")
def wall_clock(tz: str | None = None) -> dt.datetime:
    """Return the real current time, even inside a workflow: aware UTC, or in timezone ``tz``.

    Unlike ``now`` this is not replay-safe: use it only to stamp when something actually ran.
    ``tz`` is an IANA name (``Europe/Berlin``), Tracecat's optional argument.
    """
    value = dt.datetime.now(UTC)
    if tz is None:
        return value
    try:
        return value.astimezone(ZoneInfo(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"wall_clock: unknown timezone {tz!r}") from None


@fn("datetime")
def datetime_(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    timezone: str | None = None,
) -> dt.datetime:
    """Build a datetime from its parts (naive unless ``timezone`` is given)."""
    parts = [year, month, day, hour, minute, second, microsecond]
    y, mo, d, h, mi, s, us = (expect_int("datetime", p, "integer parts") for p in parts)
    zone = to_zone("datetime", timezone) if timezone is not None else None
    try:
        return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=zone)
    except ValueError as exc:
        raise ValueError(f"datetime: {exc}") from None


@fn("to_datetime")
def to_datetime(x: Any, tz: str | None = None) -> dt.datetime:
    """Convert a datetime, ISO 8601 string or Unix timestamp (seconds) to a datetime.

    With ``tz``, an aware value is converted to that zone and a naive one is read as a wall time
    in that zone. A timestamp without ``tz`` gives an aware UTC datetime.
    """
    value = coerce_datetime("to_datetime", x)
    if tz is None:
        return value
    zone = to_zone("to_datetime", tz)
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


@fn("parse_datetime")
def parse_datetime(x: str, fmt: str) -> dt.datetime:
    """Parse a string with a ``strptime`` format (``%Y-%m-%d %H:%M``)."""
    text, pattern = expect_str("parse_datetime", x), expect_str("parse_datetime", fmt, "a format")
    try:
        return dt.datetime.strptime(text, pattern)
    except ValueError as exc:
        raise ValueError(f"parse_datetime: '{text}' does not match '{pattern}': {exc}") from None


@fn("parse_time")
def parse_time(x: str, fmt: str | None = None) -> dt.time:
    """Parse a time of day: ISO 8601 (``14:30``, ``14:30:05``) or a ``strptime`` format."""
    text = expect_str("parse_time", x).strip()
    if fmt is not None:
        return parse_datetime(text, fmt).time()
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"parse_time expects a time like '14:30:05', got '{text}'") from None


@fn("to_time")
def to_time(x: Any) -> dt.time:
    """Return the time of day of a datetime (or of a time string like ``14:30``)."""
    if isinstance(x, dt.time):
        return x
    if isinstance(x, str):
        try:
            return dt.time.fromisoformat(x.strip())
        except ValueError:
            pass
    value = coerce_datetime("to_time", x)
    return value.timetz()


@fn("format_datetime")
def format_datetime(x: Any, fmt: str) -> str:
    """Format a datetime with a ``strftime`` format (``%Y-%m-%d``)."""
    return coerce_datetime("format_datetime", x).strftime(
        expect_str("format_datetime", fmt, "a format")
    )


@fn("to_isoformat")
def to_isoformat(x: Any, timespec: str = "auto") -> str:
    """Write a datetime as ISO 8601 text (``timespec``: auto, seconds, milliseconds ...)."""
    value = x if isinstance(x, dt.time) else coerce_datetime("to_isoformat", x)
    try:
        return value.isoformat(timespec=expect_str("to_isoformat", timespec, "a timespec"))
    except ValueError as exc:
        raise ValueError(f"to_isoformat: {exc}") from None


def _unit(fname: str, unit: Any) -> int:
    name = expect_str(fname, unit, "a unit")
    if name not in UNITS:
        raise ValueError(f"{fname} unit must be one of {', '.join(UNITS)}, got '{name}'")
    return UNITS[name]


@fn("to_timestamp")
def to_timestamp(x: Any, unit: str = "s") -> int:
    """Return the Unix timestamp of a datetime as an integer in ``s``, ``ms``, ``us`` or ``ns``."""
    per_second = _unit("to_timestamp", unit)
    delta = as_utc(coerce_datetime("to_timestamp", x)) - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * per_second // 1_000_000


@fn("from_timestamp")
def from_timestamp(x: int | float, unit: str = "s") -> dt.datetime:
    """Turn a Unix timestamp in ``s``, ``ms``, ``us`` or ``ns`` into an aware UTC datetime."""
    number = expect_number("from_timestamp", x, "a numeric timestamp")
    per_second = _unit("from_timestamp", unit)
    if isinstance(number, int):
        micros = number * 1_000_000 // per_second
        try:
            return EPOCH + dt.timedelta(microseconds=micros)
        except OverflowError:
            raise ValueError(f"from_timestamp: timestamp {number} is out of range") from None
    return _from_seconds("from_timestamp", number / per_second)


@fn("set_timezone")
def set_timezone(x: Any, timezone: str) -> dt.datetime:
    """Convert a datetime to another time zone (a naive one is taken to be UTC)."""
    zone = to_zone("set_timezone", timezone)
    return as_utc(coerce_datetime("set_timezone", x)).astimezone(zone)


@fn("unset_timezone")
def unset_timezone(x: Any) -> dt.datetime:
    """Drop the time zone of a datetime, keeping its wall time."""
    return coerce_datetime("unset_timezone", x).replace(tzinfo=None)


@fn("get_year")
def get_year(x: Any) -> int:
    """Return the year of a datetime."""
    return coerce_datetime("get_year", x).year


@fn("get_month")
def get_month(x: Any, fmt: str = "number") -> int | str:
    """Return the month: a number (1-12), or its ``full`` or ``short`` English name."""
    month = coerce_datetime("get_month", x).month
    kind = expect_str("get_month", fmt, "a format")
    if kind == "number":
        return month
    name = MONTH_NAMES[month - 1]
    if kind == "full":
        return name
    if kind == "short":
        return name[:3]
    raise ValueError(f"get_month format must be number, full or short, got '{kind}'")


@fn("get_day")
def get_day(x: Any) -> int:
    """Return the day of the month of a datetime."""
    return coerce_datetime("get_day", x).day


@fn("get_hour")
def get_hour(x: Any) -> int:
    """Return the hour (0-23) of a datetime."""
    return coerce_datetime("get_hour", x).hour


@fn("get_minute")
def get_minute(x: Any) -> int:
    """Return the minute of a datetime."""
    return coerce_datetime("get_minute", x).minute


@fn("get_second")
def get_second(x: Any) -> int:
    """Return the second of a datetime."""
    return coerce_datetime("get_second", x).second


@fn("get_day_of_week")
def get_day_of_week(x: Any, fmt: str = "number") -> int | str:
    """Return the weekday: a number (Monday is 0), or its ``full`` or ``short`` English name."""
    day = coerce_datetime("get_day_of_week", x).weekday()
    kind = expect_str("get_day_of_week", fmt, "a format")
    if kind == "number":
        return day
    if kind == "full":
        return DAY_NAMES[day]
    if kind == "short":
        return DAY_NAMES[day][:3]
    raise ValueError(f"get_day_of_week format must be number, full or short, got '{kind}'")
