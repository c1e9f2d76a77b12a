"""``wait_until`` values: ISO 8601 times and natural phrases read relative to the run's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from keel.dsl.instants import iso_instant, parse_instant

BASE = datetime(2026, 11, 22, 21, 30, tzinfo=UTC)  # a Sunday


def test_iso_times_are_read_without_a_phrase_parser() -> None:
    assert iso_instant("2026-12-01T09:00:00Z") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert iso_instant("2026-12-01T09:00:00") == datetime(2026, 12, 1, 9, tzinfo=UTC)  # naive: UTC
    paris = iso_instant("2026-12-01T10:00:00+01:00")
    assert paris == datetime(2026, 12, 1, 9, tzinfo=UTC)
    aware = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert iso_instant(aware) == aware
    assert iso_instant("tomorrow") is None and iso_instant(42) is None


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("in 2 hours", datetime(2026, 11, 22, 23, 30, tzinfo=UTC)),
        ("in 30 minutes", datetime(2026, 11, 22, 22, 0, tzinfo=UTC)),
        ("tomorrow at 9am", datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        ("monday", datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),  # the coming one
        ("in 3 days at noon", datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
        ("1 December 2026 9:00 CET", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
    ],
)
def test_phrases_are_read_relative_to_the_base(phrase: str, expected: datetime) -> None:
    assert parse_instant(phrase, BASE) == expected


def test_a_phrase_that_names_no_time_says_what_would() -> None:
    with pytest.raises(ValueError, match=r"'banana' is not a time Keel understands; use an ISO"):
        parse_instant("banana", BASE)
    with pytest.raises(ValueError, match=r"wait_until: 42 is not a time"):
        parse_instant(42, BASE)
