"""The relay: starts accepted runs in Temporal, after their 202, from the store's outbox.

A plain webhook delivery is answered once its run is *accepted*: its summary row (``queued``)
and its outbox entry are committed together (:class:`~keel.api.run_records.RunRecorder`), so
the answer never waits on Temporal. The :class:`OutboxRelay` of the API process that accepted
the run is handed the entry at once (an in-process queue: no polling delay) and starts it with
the usual start path (:func:`keel.api.launcher.start_accepted`: non-eager, on the workers'
queue), a batch of entries at a time; then, in one transaction, it deletes the batch's entries
and marks their rows ``running``.

Every start refuses a duplicate id (``REJECT_DUPLICATE``), and a run Temporal already has
counts as started: an entry may be relayed twice (a crash between the start and the delete, a
lease that ran out during a slow start) but its run never starts twice.

Failures:

- Temporal unreachable or refusing: the entries stay claimed (the lease is renewed) and are
  tried again with a growing pause (up to :data:`MAX_BACKOFF` seconds); they start when it
  is back, in the order they came.
- The API process dies after the answer and before the start: its entries' lease runs out
  (``KEEL_OUTBOX_LEASE_SECONDS``) and the sweep of any API process (at its start and every
  :data:`SWEEP_EVERY` seconds) claims and starts them.
- The workflow (so its version) was deleted before the start: the run is marked ``failed``
  with that reason, and its entry deleted (a process that still has that version parsed in
  its cache starts it, as a run started just before the deletion would have run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from keel.errors import NotFoundError
from keel.store import outbox, runs
from keel.store.outbox import Accepted, Lease

if TYPE_CHECKING:
    from keel.api.state import ServiceState

log = logging.getLogger(__name__)

#: How many accepted runs are started at once (and settled in one transaction). Small, so the
#: starts (and the Temporal server's work for them) come as a steady stream between the acks
#: rather than in bursts: 202 ack p99 ~85 ms instead of ~125 ms with 64 at 8 clients
#: (bench/RESULTS.md, session 6).
BATCH = 16

#: Seconds between two sweeps of the outbox for entries whose lease ran out.
SWEEP_EVERY = 2.0

#: The longest pause between two tries of a start Temporal refused (seconds).
MAX_BACKOFF = 10.0


def new_lease(seconds: float) -> Lease:
    """Return a lease under a fresh claim name for this process."""
    return Lease(f"api-{uuid.uuid4().hex[:16]}", seconds)


class OutboxRelay:
    """Starts this process's accepted runs in Temporal; sweeps up those of processes that died.

    The relaying task runs while there is something to relay, so a process (or a test) that
    never accepts a run has no task to stop; the sweeping task runs between :meth:`start` and
    :meth:`close` (``keel api`` starts it with the app).

    Args:
        state: The service (its store, Temporal client, recorder).
        lease: This process's claim name and lease length (the recorder's too).
    """

    def __init__(self, state: ServiceState, lease: Lease) -> None:
        self._state = state
        self.lease = lease
        self._queue: list[Accepted] = []
        self._held: set[str] = set()  # ids in the queue or being started
        self._relaying: asyncio.Task[None] | None = None
        self._sweeping: asyncio.Task[None] | None = None
        self._stopped = False
        self._failures = 0

    @property
    def holding(self) -> int:
        """Return how many accepted runs this process holds to start (queued or starting)."""
        return len(self._held)

    def push(self, entries: Sequence[Accepted]) -> None:
        """Queue committed entries claimed by this process; start relaying if idle."""
        for entry in entries:
            if entry.execution_id not in self._held:  # swept up again while still held here
                self._held.add(entry.execution_id)
                self._queue.append(entry)
        if not self._stopped and (self._relaying is None or self._relaying.done()):
            self._relaying = asyncio.create_task(self._relay(), name="keel-outbox-relay")

    def start(self) -> None:
        """Sweep the outbox now and every :data:`SWEEP_EVERY` seconds until :meth:`close`."""
        self._stopped = False
        if self._sweeping is None or self._sweeping.done():
            self._sweeping = asyncio.create_task(self._sweep_forever(), name="keel-outbox-sweep")
        if self._queue:
            self.push([])

    async def sweep(self) -> int:
        """Claim the entries whose lease ran out and queue them; return how many."""
        found = 0
        while not self._stopped:
            async with self._state.database.session() as session:
                entries = await outbox.claim_expired(
                    session, owner=self.lease.owner, until=self.lease.until(), limit=BATCH * 4
                )
            if not entries:
                break
            log.info("outbox: took over %d accepted run(s) whose lease ran out", len(entries))
            found += len(entries)
            self.push(entries)
            if len(entries) < BATCH * 4:
                break
        return found

    def stop(self) -> None:
        """Stop starting runs at once (what is left stays claimed until its lease runs out)."""
        self._stopped = True
        for task in (self._relaying, self._sweeping):
            if task is not None:
                task.cancel()

    async def close(self, grace: float = 5.0) -> None:
        """Finish the starts under way (up to ``grace`` seconds), stop, and hand the rest over.

        What is left (Temporal unreachable, or more than ``grace`` allows) has its leases ended,
        so another API process, or this one's restart, starts it at once.
        """
        relaying = self._relaying
        if relaying is not None and not relaying.done() and grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(relaying), grace)
        self.stop()
        for task in (self._relaying, self._sweeping):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        self._relaying = self._sweeping = None
        self._queue.clear()
        self._held.clear()
        try:
            async with self._state.database.session() as session:
                released = await outbox.release(session, owner=self.lease.owner)
        except Exception as exc:  # the store is going away too: the leases run out by themselves
            log.warning("outbox: could not release this process's claims: %s", exc)
            return
        if released:
            log.info("outbox: %d accepted run(s) left for another API process", released)

    async def _sweep_forever(self) -> None:
        while not self._stopped:
            try:
                await self.sweep()
            except Exception as exc:  # the store is briefly unavailable: try at the next sweep
                log.warning("outbox: sweep failed: %s", exc)
            await asyncio.sleep(SWEEP_EVERY)

    async def _relay(self) -> None:
        while self._queue and not self._stopped:
            batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            outcomes = await asyncio.gather(
                *(self._start(entry) for entry in batch), return_exceptions=True
            )
            started: list[str] = []
            gone: list[tuple[str, str]] = []
            retry: list[tuple[Accepted, BaseException]] = []
            for entry, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, NotFoundError):
                    gone.append((entry.execution_id, str(outcome)))
                elif isinstance(outcome, BaseException):
                    retry.append((entry, outcome))
                else:
                    started.append(entry.execution_id)
            await self._settle(started, gone)
            self._held.difference_update(started, (one for one, _ in gone))
            if retry:
                await self._retry_later(retry)
            else:
                self._failures = 0

    async def _start(self, entry: Accepted) -> None:
        from keel.api.launcher import start_accepted  # the launcher imports the state module

        await start_accepted(self._state, entry)

    async def _settle(self, started: list[str], gone: list[tuple[str, str]]) -> None:
        """Delete the entries of started (or impossible) runs; mark the rows; one transaction."""
        if not started and not gone:
            return
        try:
            async with self._state.database.session() as session:
                await outbox.remove(session, started + [one for one, _ in gone])
                await runs.mark_started(session, started)
                for execution_id, reason in gone:
                    log.error("outbox: run %s cannot start: %s", execution_id, reason)
                    await runs.update_run_status(
                        session, execution_id, "failed", error=f"the run could not start: {reason}"
                    )
        except Exception as exc:
            # The runs started; their entries stay until the lease runs out, and the sweep's
            # second start finds each run already there (it counts as started).
            log.warning("outbox: could not settle %d started run(s): %s", len(started), exc)

    async def _retry_later(self, failed: list[tuple[Accepted, BaseException]]) -> None:
        """Keep the lease over a pause (longer after each failure in a row), then queue again.

        Entries another process took over meanwhile (their lease had run out) are dropped here.
        """
        self._failures += 1
        pause = min(MAX_BACKOFF, 0.2 * 2 ** min(self._failures, 10))
        first = failed[0][1]
        error = f"{type(first).__name__}: {first}"
        log.warning(
            "outbox: Temporal did not start %d accepted run(s) (%s); trying again in %.1f s",
            len(failed),
            error,
            pause,
        )
        ids = [entry.execution_id for entry, _ in failed]
        until = self.lease.until() + timedelta(seconds=pause)
        try:
            async with self._state.database.session() as session:
                mine = await outbox.renew(
                    session, ids, owner=self.lease.owner, until=until, error=error
                )
        except Exception as exc:  # keep trying them: a second start of one is refused anyway
            log.warning("outbox: could not renew the claims: %s", exc)
            mine = set(ids)
        self._held.difference_update(set(ids) - mine)
        await asyncio.sleep(pause)
        self._queue[:0] = [entry for entry, _ in failed if entry.execution_id in mine]
