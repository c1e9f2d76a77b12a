"""FN.uuid4, FN.in, FN.is and the time functions' optional arguments (Tracecat's spellings)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from keel.expressions import check, evaluate


def ev(text: str, context: dict[str, Any] | None = None) -> Any:
    return evaluate("${{ " + text + " }}", context or {})


def test_uuid4_is_a_fresh_version_4_uuid() -> None:
    first, second = ev("FN.uuid4()"), ev("FN.uuid4()")
    assert uuid.UUID(first).version == 4
    assert first != second


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FN.in(2, [1, 2])", True),
        ("FN.in('b', {'b': 1})", True),
        ("FN.in('ell', 'hello')", True),
        ("FN.in(3, [1, 2])", False),
        ("FN.is(None, TRIGGER.missing)", True),
        ("FN.is(True, True)", True),
        ("FN.is(1, True)", False),
        ("FN.is(1, 1.0)", False),
        ("FN.is('a', 'a')", True),
        ("FN.is([1], [1])", True),
        ("FN.is(None, False)", False),
    ],
)
def test_in_and_is(text: str, expected: bool) -> None:
    assert ev(text, {"TRIGGER": {}}) is expected


def test_wrong_arity_is_found_at_commit() -> None:
    assert check("${{ FN.in(1) }}") == [
        "FN.in takes 2 argument(s), 1 given in expression 'FN.in(1)'"
    ]
    assert check("${{ FN.uuid4(1) }}")


def test_now_and_utcnow_take_as_isoformat() -> None:
    clock = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC)
    assert evaluate("${{ FN.now(True) }}", {}, clock=lambda: clock) == "2026-03-01T12:30:00"
    assert (
        evaluate("${{ FN.utcnow(True) }}", {}, clock=lambda: clock) == "2026-03-01T12:30:00+00:00"
    )
    assert evaluate("${{ FN.now() }}", {}, clock=lambda: clock) == dt.datetime(2026, 3, 1, 12, 30)


def test_wall_clock_takes_a_timezone() -> None:
    value = ev("FN.wall_clock('Asia/Tokyo')")
    assert value.utcoffset() == dt.timedelta(hours=9)
    with pytest.raises(Exception, match="unknown timezone 'Mars/Olympus'"):
        ev("FN.wall_clock('Mars/Olympus')")


@pytest.mark.parametrize(("fmt", "expected"), [("number", 3), ("full", "March"), ("short", "Mar")])
def test_get_month_takes_a_format(fmt: str, expected: Any) -> None:
    assert ev(f"FN.get_month('2026-03-01T00:00:00', '{fmt}')") == expected
    assert ev("FN.get_month('2026-03-01T00:00:00')") == 3


def test_get_month_refuses_an_unknown_format() -> None:
    with pytest.raises(Exception, match="format must be number, full or short"):
        ev("FN.get_month('2026-03-01T00:00:00', 'roman')")
