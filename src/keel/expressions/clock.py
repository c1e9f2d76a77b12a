"""The run's deterministic sources: the clock of ``FN.now`` and friends, UUIDs of ``FN.uuid4``.

Inside a Temporal workflow neither the wall clock nor a random generator may be read (a replay
would see another time or another UUID, and could take another branch), so the engine passes
``clock=workflow.now`` to :func:`keel.expressions.evaluate`, which sets :data:`CLOCK` for the
duration of that evaluation, and sets :data:`UUIDS` to ``workflow.uuid4`` in the run's own
context when the run starts (its tasks inherit it). Outside a run both are unset and the real
clock and random UUIDs are used.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

#: The clock of the evaluation in progress, or None for the real clock.
CLOCK: contextvars.ContextVar[Callable[[], datetime] | None] = contextvars.ContextVar(
    "keel_expression_clock", default=None
)


#: Where ``FN.uuid4`` takes UUIDs in the run in progress, or None for random ones.
UUIDS: contextvars.ContextVar[Callable[[], uuid.UUID] | None] = contextvars.ContextVar(
    "keel_expression_uuids", default=None
)


def new_uuid() -> uuid.UUID:
    """Return a new version-4 UUID, from :data:`UUIDS` when it is set (a run's, replay-stable)."""
    source = UUIDS.get()
    return uuid.uuid4() if source is None else source()


def now_utc() -> datetime:
    """Return the current time as an aware UTC datetime, from :data:`CLOCK` when it is set."""
    clock = CLOCK.get()
    if clock is None:
        return datetime.now(UTC)
    value = clock()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
