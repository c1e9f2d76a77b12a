"""Time functions read the run's clock (``keel.expressions.clock.CLOCK``) when it is set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from keel.expressions.clock import CLOCK
from keel.expressions.functions import FUNCTIONS

UTC = dt.UTC
FROZEN = dt.datetime(2024, 3, 15, 23, 30, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> Iterator[None]:
    token = CLOCK.set(lambda: FROZEN)
    try:
        yield
    finally:
        CLOCK.reset(token)


def call(name: str, *args: object) -> object:
    return FUNCTIONS[name].impl(*args)


@pytest.mark.usefixtures("frozen_clock")
def test_now_is_the_naive_utc_time_of_the_clock() -> None:
    assert call("now") == dt.datetime(2024, 3, 15, 23, 30)


@pytest.mark.usefixtures("frozen_clock")
def test_utcnow_is_aware_utc() -> None:
    result = call("utcnow")
    assert result == FROZEN
    assert isinstance(result, dt.datetime)
    assert result.utcoffset() == dt.timedelta(0)


@pytest.mark.usefixtures("frozen_clock")
def test_today_is_the_utc_date_of_the_clock() -> None:
    assert call("today") == dt.date(2024, 3, 15)


def test_a_clock_in_another_zone_is_converted_to_utc() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    token = CLOCK.set(lambda: dt.datetime(2024, 3, 16, 0, 30, tzinfo=paris))
    try:
        assert call("now") == dt.datetime(2024, 3, 15, 23, 30)
        assert call("today") == dt.date(2024, 3, 15)
    finally:
        CLOCK.reset(token)


def test_a_naive_clock_is_read_as_utc() -> None:
    token = CLOCK.set(lambda: dt.datetime(2024, 3, 15, 23, 30))
    try:
        assert call("utcnow") == FROZEN
    finally:
        CLOCK.reset(token)


@pytest.mark.usefixtures("frozen_clock")
def test_wall_clock_ignores_the_run_clock() -> None:
    before = dt.datetime.now(UTC)
    result = call("wall_clock")
    assert isinstance(result, dt.datetime)
    assert before <= result <= dt.datetime.now(UTC)


def test_without_a_clock_now_is_the_real_time() -> None:
    before = dt.datetime.now(UTC).replace(tzinfo=None)
    result = call("now")
    assert isinstance(result, dt.datetime)
    assert result.tzinfo is None
    assert before <= result <= dt.datetime.now(UTC).replace(tzinfo=None)


@pytest.mark.usefixtures("frozen_clock")
def test_loose_dates_fill_missing_fields_from_the_run_clock() -> None:
    # "March 5" has no year: the year comes from the run's clock, never the host's.
    assert call("to_datetime", "March 5 10:00") == dt.datetime(2024, 3, 5, 10, 0)


@pytest.mark.usefixtures("frozen_clock")
def test_durations_combine_with_now() -> None:
    later = call("utcnow") + call("hours", 2)  # type: ignore[operator]
    assert call("hours_between", FROZEN, later) == 2.0


def test_to_datetime_reads_a_naive_value_as_wall_time_in_tz() -> None:
    result = call("to_datetime", "2024-03-15T09:00:00", "Europe/Paris")
    assert isinstance(result, dt.datetime)
    assert result.isoformat() == "2024-03-15T09:00:00+01:00"


def test_to_datetime_converts_an_aware_value_to_tz() -> None:
    result = call("to_datetime", "2024-03-15T09:00:00Z", "Europe/Paris")
    assert isinstance(result, dt.datetime)
    assert result.isoformat() == "2024-03-15T10:00:00+01:00"


def test_timestamps_round_trip() -> None:
    for unit in ("s", "ms", "us", "ns"):
        stamp = call("to_timestamp", "2024-03-15T12:30:45.123456Z", unit)
        assert isinstance(stamp, int)
        back = call("from_timestamp", stamp, unit)
        assert isinstance(back, dt.datetime)
        assert back.tzinfo is not None
    assert call("from_timestamp", call("to_timestamp", FROZEN, "us"), "us") == FROZEN


def test_working_hours_edges_are_included() -> None:
    assert call("is_working_hours", "2024-03-15T09:00:00", "09:00", "17:00") is True
    assert call("is_working_hours", "2024-03-15T17:00:00", "09:00", "17:00") is True
    assert call("is_working_hours", "2024-03-15T17:00:01", "09:00", "17:00") is False
    # 07:30 UTC is 08:30 in Paris (winter): before a 09:00 start there.
    assert (
        call("is_working_hours", "2024-03-15T07:30Z", "09:00", "17:00", False, "Europe/Paris")
        is False
    )
