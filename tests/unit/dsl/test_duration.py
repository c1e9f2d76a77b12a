"""Durations as workflows write them."""

from __future__ import annotations

import pytest

from keel.dsl.duration import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("45s", 45.0),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("500ms", 0.5),
        ("PT1H30M", 5400.0),
        ("P1DT12H", 129600.0),
        ("P2W", 1209600.0),
        ("pt10s", 10.0),
        ("01:30", 90.0),
        ("1:00:00", 3600.0),
    ],
)
def test_valid(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [True, -1, "soon", "P", "PT", "P1Y", "P1M", "1x", "", None, [1]])
def test_invalid(value: object) -> None:
    assert parse_duration(value) is None
