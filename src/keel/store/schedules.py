"""Schedules: when to start a workflow, with which inputs; each mirrors a Temporal Schedule.

The store keeps Keel's record (the id doubles as the Temporal Schedule id); the orchestration layer
creates, pauses and deletes the Temporal side. ``spec`` is the JSON of a schedule spec (cron
expressions, intervals...), interpreted by ``keel.triggers``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import NotFoundError
from keel.store.tables import ScheduleRow, WorkflowRow, new_id, utcnow


async def create_schedule(
    session: AsyncSession,
    workflow_id: str,
    *,
    spec: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    paused: bool = False,
) -> ScheduleRow:
    """Create a schedule (id ``sch_<hex>``) for a workflow.

    Raises:
        NotFoundError: No workflow has that id.
    """
    if await session.get(WorkflowRow, workflow_id) is None:
        raise NotFoundError("workflow", workflow_id)
    now = utcnow()
    row = ScheduleRow(
        id=new_id("sch"),
        workflow_id=workflow_id,
        spec=dict(spec),
        inputs=dict(inputs or {}),
        paused=paused,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def get_schedule(session: AsyncSession, schedule_id: str) -> ScheduleRow:
    """Return a schedule.

    Raises:
        NotFoundError: No schedule has that id.
    """
    row = await session.get(ScheduleRow, schedule_id)
    if row is None:
        raise NotFoundError("schedule", schedule_id)
    return row


async def list_schedules(
    session: AsyncSession, *, workflow_id: str | None = None
) -> Sequence[ScheduleRow]:
    """Return schedules, oldest first, optionally only those of one workflow."""
    query = select(ScheduleRow).order_by(ScheduleRow.created_at, ScheduleRow.id)
    if workflow_id is not None:
        query = query.where(ScheduleRow.workflow_id == workflow_id)
    return (await session.scalars(query)).all()


async def update_schedule(
    session: AsyncSession,
    schedule_id: str,
    *,
    spec: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    paused: bool | None = None,
) -> ScheduleRow:
    """Change a schedule's spec, inputs or paused flag (``None`` leaves a field as is).

    Raises:
        NotFoundError: No schedule has that id.
    """
    row = await get_schedule(session, schedule_id)
    if spec is not None:
        row.spec = dict(spec)
    if inputs is not None:
        row.inputs = dict(inputs)
    if paused is not None:
        row.paused = paused
    row.updated_at = utcnow()
    await session.flush()
    return row


async def delete_schedule(session: AsyncSession, schedule_id: str) -> None:
    """Delete a schedule.

    Raises:
        NotFoundError: No schedule has that id.
    """
    await session.delete(await get_schedule(session, schedule_id))
    await session.flush()
