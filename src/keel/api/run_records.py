"""Run-summary rows of concurrent starts, written together (a group commit).

Every started run gets a summary row (:func:`keel.store.runs.record_run_start`). Written one
transaction per delivery, concurrent deliveries queue behind each other for SQLite's single
writer and each pays a whole session (checkout, ``BEGIN``, ``COMMIT``, the pool's reset). The
:class:`RunRecorder` instead lets whoever arrives while a write is under way join the next one:
one writer task drains the queue, one transaction per batch. A caller still returns only once
its rows are committed, so a run that was acknowledged is always listed.

A run *accepted* for a later start (a plain webhook delivery: see :mod:`keel.api.outbox`) is
written the same way: its summary row (``queued``) and its outbox entry go in the batch's
transaction, so accepting costs one shared commit; the entries that are new are handed to the
relay once committed. The outbox is bounded (``KEEL_OUTBOX_MAX``): checked against its last
count (at most :data:`COUNT_EVERY` seconds old, and counted again whenever the bound seems near)
plus what this process accepted since, so the hot path seldom pays the count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from keel.store import outbox, runs
from keel.store.database import Database
from keel.store.outbox import Accepted, Lease, OutboxFullError

#: Seconds a count of the outbox is reused for its bound (other API processes' entries since are
#: not seen until the next count, so with several processes the bound may be passed by what they
#: accept meanwhile).
COUNT_EVERY = 1.0


@dataclass(frozen=True)
class RunStart:
    """One summary row to write: the arguments of :func:`~keel.store.runs.record_run_start`."""

    execution_id: str
    workflow_id: str | None
    version: int | None
    trigger_type: runs.TriggerType
    idempotency_key: str | None = None
    exists_ok: bool = False
    accepted: Accepted | None = None
    """Set for a run accepted for a later start: its row says ``queued``, and this entry goes
    to the outbox (unless the row was already there: a redelivery starts nothing)."""


@dataclass
class _Pending:
    rows: Sequence[RunStart]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _ignore(entries: Sequence[Accepted]) -> None:
    """Accept entries without relaying them (a recorder with no relay)."""


class RunRecorder:
    """Writes the summary rows of concurrent starts in shared transactions.

    Args:
        database: The store.
        lease: How accepted entries are claimed (by this process, for how long).
        outbox_max: The most entries the outbox may hold (``KEEL_OUTBOX_MAX``).
        on_accepted: Called with the new outbox entries of each committed transaction (the
            relay's queue).
    """

    def __init__(
        self,
        database: Database,
        *,
        lease: Lease | None = None,
        outbox_max: int = 10_000,
        on_accepted: Callable[[Sequence[Accepted]], None] = _ignore,
    ) -> None:
        self._database = database
        self._lease = lease or Lease("unnamed", 10.0)
        self._outbox_max = outbox_max
        self._on_accepted = on_accepted
        self._outbox_count = 0  # entries at the last count, plus those accepted here since
        self._counted_at = float("-inf")
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, rows: Sequence[RunStart]) -> None:
        """Write ``rows`` (in one transaction with other callers' rows); return once committed.

        A caller that is cancelled (its client went away) does not cancel the write: the runs
        started, so their rows are written all the same.

        Raises:
            ConflictError: One of ``rows`` conflicts (only this caller's rows are refused).
            OutboxFullError: ``rows`` accept runs and the outbox has no room for them.
        """
        pending = _Pending(rows)
        # If this caller is cancelled, nobody reads an error the write may end with: mark it
        # read, so asyncio does not log it as lost (the caller's cancellation is its answer).
        pending.done.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._queue.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(pending.done)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._write([row for pending in batch for row in pending.rows])
            except Exception:
                # One caller's bad row must not refuse the others': write each on its own.
                for pending in batch:
                    await self._settle(pending)
            else:
                for pending in batch:
                    pending.done.set_result(None)

    async def _settle(self, pending: _Pending) -> None:
        try:
            await self._write(pending.rows)
        except Exception as exc:
            pending.done.set_exception(exc)
        else:
            pending.done.set_result(None)

    async def _write(self, rows: Sequence[RunStart]) -> None:
        async with self._database.session() as session:
            asked = sum(row.accepted is not None for row in rows)
            # Checked before writing; a full batch falls back to one caller at a time (see
            # _drain), so callers that still fit are accepted.
            if asked:
                await self._check_room(session, asked)
            values = [
                runs.run_values(
                    row.execution_id,
                    workflow_id=row.workflow_id,
                    version=row.version,
                    trigger_type=row.trigger_type,
                    idempotency_key=row.idempotency_key,
                    status="running" if row.accepted is None else "queued",
                )
                for row in rows
            ]
            exists_ok = [row.exists_ok for row in rows]
            new = await runs.insert_runs(session, values, exists_ok=exists_ok)
            # An accepted run goes to the outbox only when its row is new: a redelivery of a
            # keyed delivery must not start anything (the first delivery's payload wins).
            accepted = [
                row.accepted
                for row, fresh in zip(rows, new, strict=True)
                if fresh and row.accepted is not None
            ]
            await outbox.add(session, accepted, owner=self._lease.owner, until=self._lease.until())
        if accepted:
            self._outbox_count += len(accepted)
            self._on_accepted(accepted)

    async def _check_room(self, session: AsyncSession, asked: int) -> None:
        """Raise :class:`OutboxFullError` unless ``asked`` more entries fit in the outbox."""
        now = time.monotonic()
        stale = now - self._counted_at > COUNT_EVERY
        if stale or self._outbox_count + asked > self._outbox_max:
            self._outbox_count = await outbox.count(session)
            self._counted_at = now
        if self._outbox_count + asked > self._outbox_max:
            raise OutboxFullError(self._outbox_max)
