"""The run's deterministic clock, read by ``FN.now``, ``FN.utcnow`` and ``FN.today``.

Inside a Temporal workflow the wall clock must not be read (a replay would see another time), so
the engine passes ``clock=workflow.now`` to :func:`keel.expressions.evaluate`, which sets
:data:`CLOCK` for the duration of that evaluation. Outside a run it is unset and the time
functions read the real clock.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import UTC, datetime

#: The clock of the evaluation in progress, or None for the real clock.
CLOCK: contextvars.ContextVar[Callable[[], datetime] | None] = contextvars.ContextVar(
    "keel_expression_clock", default=None
)


def now_utc() -> datetime:
    """Return the current time as an aware UTC datetime, from :data:`CLOCK` when it is set."""
    clock = CLOCK.get()
    if clock is None:
        return datetime.now(UTC)
    value = clock()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
