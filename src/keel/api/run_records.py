"""Run-summary rows of concurrent starts, written together (a group commit).

Every started run gets a summary row (:func:`keel.store.runs.record_run_start`). Written one
transaction per delivery, concurrent deliveries queue behind each other for SQLite's single
writer and each pays a whole session (checkout, ``BEGIN``, ``COMMIT``, the pool's reset). The
:class:`RunRecorder` instead lets whoever arrives while a write is under way join the next one:
one writer task drains the queue, one transaction per batch. A caller still returns only once
its rows are committed, so a run that was acknowledged is always listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from keel.store import runs
from keel.store.database import Database


@dataclass(frozen=True)
class RunStart:
    """One summary row to write: the arguments of :func:`~keel.store.runs.record_run_start`."""

    execution_id: str
    workflow_id: str | None
    version: int | None
    trigger_type: runs.TriggerType
    idempotency_key: str | None = None
    exists_ok: bool = False


@dataclass
class _Pending:
    rows: Sequence[RunStart]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RunRecorder:
    """Writes the summary rows of concurrent starts in shared transactions.

    Args:
        database: The store.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, rows: Sequence[RunStart]) -> None:
        """Write ``rows`` (in one transaction with other callers' rows); return once committed.

        A caller that is cancelled (its client went away) does not cancel the write: the runs
        started, so their rows are written all the same.

        Raises:
            ConflictError: One of ``rows`` conflicts (only this caller's rows are refused).
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
            for row in rows:
                await runs.record_run_start(
                    session,
                    row.execution_id,
                    workflow_id=row.workflow_id,
                    version=row.version,
                    trigger_type=row.trigger_type,
                    idempotency_key=row.idempotency_key,
                    exists_ok=row.exists_ok,
                )
