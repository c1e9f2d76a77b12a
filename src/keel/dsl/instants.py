"""``wait_until`` values: an ISO 8601 time, or a natural phrase such as ``tomorrow at 9am``.

ISO 8601 is read here with the standard library (the workflow does this itself: it is
deterministic). A phrase is read with ``dateparser`` relative to a base instant, in English,
preferring the future (``monday`` is the coming Monday, ``2 days`` is two days from the base),
in UTC unless the phrase names a zone. The engine resolves phrases in a local activity with the
run's clock as the base, so the answer is recorded in the history and a replay reads it back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

EXAMPLES = "an ISO 8601 time such as 2026-12-01T09:00:00Z, or a phrase such as 'tomorrow at 9am'"


def iso_instant(value: Any) -> datetime | None:
    """Return the aware instant of a datetime or ISO 8601 text (naive means UTC), else None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_instant(value: Any, base: datetime) -> datetime:
    """Return the aware instant ``value`` names, phrases read relative to ``base``.

    Raises:
        ValueError: ``value`` is neither ISO 8601 nor a phrase ``dateparser`` understands; the
            message quotes it and gives examples of both.
    """
    moment = iso_instant(value)
    if moment is not None:
        return moment
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"wait_until: {value!r} is not a time; use {EXAMPLES}")
    import dateparser  # imported here: only phrases need it, and it loads language data

    settings = {
        "RELATIVE_BASE": base.astimezone(UTC).replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
    }
    parsed: datetime | None = dateparser.parse(value, languages=["en"], settings=settings)
    if parsed is None:
        raise ValueError(f"wait_until: '{value}' is not a time Keel understands; use {EXAMPLES}")
    return parsed.astimezone(UTC)
