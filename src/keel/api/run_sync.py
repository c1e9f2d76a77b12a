"""Keeping run summaries right without a background job: refresh them from Temporal on read.

A summary row is written ``running`` when a run starts. Whenever the API reads rows that are not
final, it asks Temporal (one ``describe`` per run, concurrently) and writes the final status,
end time and error back, so listings and filters are right as soon as a run ends.

A ``queued`` row (a run accepted into the outbox, see :mod:`keel.api.outbox`) is not asked
about: Temporal does not know it yet. The relay moves it to ``running`` in the transaction that
settles its start, and from then on it is refreshed like any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError, RPCStatusCode

from keel.api.schedule_runs import import_scheduled_runs
from keel.api.state import ServiceState
from keel.orchestration.inspection import RunState, run_state
from keel.store import runs
from keel.store.runs import FINAL_STATUSES
from keel.store.tables import RunRow

#: How many runs are described at once.
CONCURRENCY = 16

#: The most running rows refreshed before one listing (the newest ones).
MAX_REFRESH = 200


async def refresh_rows(state: ServiceState, session: AsyncSession, rows: Sequence[RunRow]) -> None:
    """Write the final status of every row in ``rows`` whose run has ended in Temporal."""
    stale = [row for row in rows if row.status not in FINAL_STATUSES and row.status != "queued"]
    if not stale:
        return
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(execution_id: str) -> RunState | None:
        async with limit:
            return await temporal_state(state, execution_id)

    found = await asyncio.gather(*(one(row.execution_id) for row in stale))
    for row, current in zip(stale, found, strict=True):
        if current is not None and current.status in FINAL_STATUSES:
            await runs.update_run_status(
                session,
                row.execution_id,
                current.status,  # type: ignore[arg-type]  # checked against FINAL_STATUSES
                ended_at=current.ended_at,
                error=current.error,
            )


async def refresh_running(
    state: ServiceState, session: AsyncSession, workflow_id: str | None
) -> None:
    """Refresh the newest rows still marked running (of one workflow, or of all).

    Runs started by Temporal Schedules get their summary rows here first (see
    :mod:`keel.api.schedule_runs`).
    """
    await import_scheduled_runs(state, session)
    page = await runs.list_runs(
        session, workflow_id=workflow_id, status="running", limit=MAX_REFRESH
    )
    await refresh_rows(state, session, page.runs)


async def temporal_state(state: ServiceState, execution_id: str) -> RunState | None:
    """Return the run's state in Temporal, or ``None`` when Temporal does not know it."""
    try:
        return await run_state(state.temporal, execution_id)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
