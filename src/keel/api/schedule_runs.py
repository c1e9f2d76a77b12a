"""Summary rows for runs that Temporal Schedules started, written lazily when runs are listed.

Temporal starts scheduled runs by itself, so no Keel code is there to write their summary row.
Instead, before ``GET /runs`` reads the store, :func:`import_scheduled_runs` asks Temporal's
visibility for runs started by a Keel schedule (``TemporalScheduledById STARTS_WITH 'sched-'``,
a search attribute Temporal sets on every scheduled run) since shortly before the newest one
already recorded, and records the missing ones (trigger type ``schedule``; workflow and version
from the run's memo, see :mod:`keel.api.scheduling`). The usual refresh then fills in their
status. No background job, one visibility query per listing, and nothing at all while no
schedule exists (so runs of a schedule deleted before any listing stay unlisted).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowExecution
from temporalio.service import RPCError

from keel.api.scheduling import MEMO_VERSION, MEMO_WORKFLOW
from keel.api.state import ServiceState
from keel.errors import ConflictError
from keel.store import runs
from keel.store.tables import RunRow, ScheduleRow

log = logging.getLogger(__name__)

#: How far before the newest recorded scheduled run the next import looks again (visibility
#: may list a run a little after it started).
OVERLAP = timedelta(minutes=5)

#: The most runs one import records (the newest first); the next listing takes the rest.
MAX_IMPORT = 500

_PREFIX = "sched-"


async def import_scheduled_runs(state: ServiceState, session: AsyncSession) -> int:
    """Record the summary of every scheduled run the store does not have yet; return how many.

    A visibility failure is logged and skipped: listing runs must not fail because of it.
    """
    if await session.scalar(select(ScheduleRow.id).limit(1)) is None:
        return 0
    newest = await session.scalar(
        select(func.max(RunRow.started_at)).where(RunRow.trigger_type == "schedule")
    )
    query = f"TemporalScheduledById STARTS_WITH '{_PREFIX}'"
    if newest is not None:
        since = (newest - OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")
        query += f" AND StartTime >= '{since}'"
    found: list[WorkflowExecution] = []
    try:
        async for execution in state.temporal.list_workflows(query, limit=MAX_IMPORT):
            found.append(execution)
    except RPCError as exc:
        log.warning("cannot list scheduled runs in Temporal: %s", exc)
        return 0
    if not found:
        return 0
    ids = [execution.id for execution in found]
    known = set(
        await session.scalars(select(RunRow.execution_id).where(RunRow.execution_id.in_(ids)))
    )
    added = 0
    for execution in found:
        if execution.id in known:
            continue
        memo = await execution.memo()
        workflow_id = memo.get(MEMO_WORKFLOW)
        version = memo.get(MEMO_VERSION)
        try:
            async with session.begin_nested():
                await runs.record_run_start(
                    session,
                    execution.id,
                    workflow_id=workflow_id if isinstance(workflow_id, str) else None,
                    version=version if isinstance(version, int) else None,
                    trigger_type="schedule",
                    started_at=execution.start_time,
                )
        except ConflictError:
            continue  # another listing recorded it at the same moment
        added += 1
    return added
