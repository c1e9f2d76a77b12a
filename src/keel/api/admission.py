"""Admission of the waited-for runs an API process orchestrates itself: a bounded number at once.

A ``/wait`` delivery of a workflow that needs no activity starts its run eagerly in the API
process (:meth:`keel.api.state.ServiceState.placement`): the start, the run's one workflow task
and the wait for its result all happen here, on this process's event loop and on the Temporal
server. With many callers at once, every run under way competes for the same loop and the same
server, so each takes longer, and which run the loop serves next is left to chance: the slowest
ones set the tail. :class:`Admission` lets ``KEEL_API_INLINE_RUNS`` of them proceed at once and
queues the others in arrival order (an asyncio semaphore wakes its waiters first come, first
served), so the runs under way finish sooner and a caller waits about as long as the queue ahead
of it.

A run holds its place for at most ``KEEL_API_INLINE_HOLD_SECONDS``: a run that waits on a
timer (``start_delay``, ``wait_until``) or is slow for any other reason gives its place up
then, and is still waited for, so slow runs never shut the door on quick ones. Runs that go to
the workers (they call actions) are not admitted here at all: their capacity is the workers',
and a cap in the API would only cut it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Admission:
    """A first-come, first-served bound on the inline runs under way in this process.

    Args:
        limit: How many may be under way at once; 0 admits every run at once (no bound).
        hold: Seconds a run keeps its place before it gives it up (and goes on without one).
    """

    def __init__(self, limit: int, hold: float) -> None:
        self.limit = limit
        self.hold = hold
        self._places = asyncio.Semaphore(limit) if limit > 0 else None

    @contextlib.asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Wait for a place, hold it for the ``with`` block or ``hold`` seconds, then give it up.

        A caller that is cancelled while queued (its client went away) takes no place.
        """
        places = self._places
        if places is None:
            yield
            return
        await places.acquire()
        held = True

        def give_up() -> None:
            nonlocal held
            if held:
                held = False
                places.release()

        timer = asyncio.get_running_loop().call_later(self.hold, give_up)
        try:
            yield
        finally:
            timer.cancel()
            give_up()
