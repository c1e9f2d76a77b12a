"""Workflows and their versions: a mutable draft per workflow and immutable committed versions.

Every function takes an open :class:`~sqlalchemy.ext.asyncio.AsyncSession` first and leaves the
commit to the caller (``Database.session()`` commits when its block ends). A workflow is found by
its id (``wf_...``) or its alias; an alias may not start with ``wf_``, so the two never clash.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import ConflictError, NotFoundError
from keel.store.tables import WorkflowRow, WorkflowVersionRow, new_id, utcnow


class Keep(enum.Enum):
    """Marks an argument of an update as "leave the stored value as it is"."""

    KEEP = "keep"


KEEP = Keep.KEEP


async def create_workflow(
    session: AsyncSession,
    *,
    title: str,
    yaml: str = "",
    alias: str | None = None,
    description: str = "",
) -> WorkflowRow:
    """Create a workflow whose draft is ``yaml``; it has no committed version yet.

    Raises:
        ConflictError: Another workflow has the alias.
    """
    if alias is not None:
        await _check_alias_free(session, alias)
    now = utcnow()
    row = WorkflowRow(
        id=new_id("wf"),
        alias=alias,
        title=title,
        description=description,
        draft_yaml=yaml,
        draft_updated_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await _flush(session, alias)
    return row


async def find_workflow(session: AsyncSession, ref: str) -> WorkflowRow | None:
    """Return the workflow whose id or alias is ``ref``, or ``None``."""
    row = await session.get(WorkflowRow, ref)
    if row is not None:
        return row
    result = await session.scalars(select(WorkflowRow).where(WorkflowRow.alias == ref))
    return result.one_or_none()


async def get_workflow(session: AsyncSession, ref: str) -> WorkflowRow:
    """Return the workflow whose id or alias is ``ref``.

    Raises:
        NotFoundError: No workflow has that id or alias.
    """
    row = await find_workflow(session, ref)
    if row is None:
        raise NotFoundError("workflow", ref)
    return row


async def list_workflows(
    session: AsyncSession, *, search: str | None = None, limit: int | None = None, offset: int = 0
) -> Sequence[WorkflowRow]:
    """Return workflows, oldest first; ``search`` matches the title or alias (case-insensitive)."""
    query = select(WorkflowRow).order_by(WorkflowRow.created_at, WorkflowRow.id).offset(offset)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(WorkflowRow.title).like(pattern),
                func.lower(WorkflowRow.alias).like(pattern),
            )
        )
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def update_workflow(
    session: AsyncSession,
    ref: str,
    *,
    title: str | Keep = KEEP,
    description: str | Keep = KEEP,
    alias: str | Keep | None = KEEP,
) -> WorkflowRow:
    """Change a workflow's title, description or alias (``alias=None`` removes it).

    Raises:
        NotFoundError: No workflow has that id or alias.
        ConflictError: Another workflow has the new alias.
    """
    row = await get_workflow(session, ref)
    if not isinstance(alias, Keep) and alias != row.alias:
        if alias is not None:
            await _check_alias_free(session, alias)
        row.alias = alias
    if not isinstance(title, Keep):
        row.title = title
    if not isinstance(description, Keep):
        row.description = description
    row.updated_at = utcnow()
    await _flush(session, None if isinstance(alias, Keep) else alias)
    return row


async def update_draft(session: AsyncSession, ref: str, yaml: str) -> WorkflowRow:
    """Replace a workflow's draft (which may be invalid; only commits are validated)."""
    row = await get_workflow(session, ref)
    row.draft_yaml = yaml
    row.draft_updated_at = row.updated_at = utcnow()
    await session.flush()
    return row


async def commit_version(
    session: AsyncSession, ref: str, *, yaml: str, definition: Mapping[str, Any]
) -> WorkflowVersionRow:
    """Store a new immutable version (number = last + 1); the caller has validated it.

    Args:
        session: An open session.
        ref: The workflow's id or alias.
        yaml: The document exactly as committed.
        definition: The validated definition as JSON (``Workflow.model_dump(mode="json")``).

    Raises:
        NotFoundError: No workflow has that id or alias.
        ConflictError: Another commit took the same number at the same moment; retry.
    """
    # FOR UPDATE serialises concurrent commits on PostgreSQL (SQLite has one writer anyway).
    query = select(WorkflowRow).where(WorkflowRow.id == (await get_workflow(session, ref)).id)
    workflow = (await session.scalars(query.with_for_update())).one()
    last = await session.scalar(
        select(func.max(WorkflowVersionRow.version)).where(
            WorkflowVersionRow.workflow_id == workflow.id
        )
    )
    number = (last or 0) + 1
    row = WorkflowVersionRow(
        workflow_id=workflow.id,
        version=number,
        yaml=yaml,
        definition=dict(definition),
        committed_at=utcnow(),
    )
    session.add(row)
    workflow.updated_at = row.committed_at
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "workflow version", f"{workflow.id} v{number}", "was committed concurrently; retry"
        ) from exc
    return row


async def list_versions(session: AsyncSession, ref: str) -> Sequence[WorkflowVersionRow]:
    """Return a workflow's committed versions, oldest first."""
    workflow = await get_workflow(session, ref)
    query = (
        select(WorkflowVersionRow)
        .where(WorkflowVersionRow.workflow_id == workflow.id)
        .order_by(WorkflowVersionRow.version)
    )
    return (await session.scalars(query)).all()


async def get_version(session: AsyncSession, ref: str, version: int) -> WorkflowVersionRow:
    """Return version ``version`` of a workflow.

    Raises:
        NotFoundError: No such workflow, or it has no such version.
    """
    workflow = await get_workflow(session, ref)
    row = await session.get(WorkflowVersionRow, (workflow.id, version))
    if row is None:
        raise NotFoundError("workflow version", f"{workflow.id} v{version}")
    return row


async def latest_version(session: AsyncSession, ref: str) -> WorkflowVersionRow | None:
    """Return a workflow's newest committed version, or ``None`` when it has none."""
    workflow = await get_workflow(session, ref)
    query = (
        select(WorkflowVersionRow)
        .where(WorkflowVersionRow.workflow_id == workflow.id)
        .order_by(WorkflowVersionRow.version.desc())
        .limit(1)
    )
    return (await session.scalars(query)).one_or_none()


async def same_as_latest(session: AsyncSession, ref: str, yaml: str) -> WorkflowVersionRow | None:
    """Return the newest committed version if its document is exactly ``yaml``, else ``None``.

    What makes a re-apply of an unchanged file add no version: the text is compared, not the
    definition, so a change to a comment or to the layout is still a new version.
    """
    latest = await latest_version(session, ref)
    return latest if latest is not None and latest.yaml == yaml else None


async def delete_workflow(session: AsyncSession, ref: str) -> None:
    """Delete a workflow with its versions, webhook and schedules (run summaries stay).

    Raises:
        NotFoundError: No workflow has that id or alias.
    """
    workflow = await get_workflow(session, ref)
    await session.delete(workflow)
    await session.flush()


async def _check_alias_free(session: AsyncSession, alias: str) -> None:
    if alias.startswith("wf_"):
        raise ConflictError("workflow alias", alias, "looks like a workflow id; drop the 'wf_'")
    taken = await session.scalar(select(WorkflowRow.id).where(WorkflowRow.alias == alias))
    if taken is not None:
        raise ConflictError("workflow alias", alias, f"already used by workflow {taken}")


async def _flush(session: AsyncSession, alias: str | None) -> None:
    """Flush, turning a lost race for an alias into a :class:`ConflictError`."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError("workflow alias", alias or "?", "is already in use") from exc
