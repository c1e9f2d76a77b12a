"""Run summaries: one row per run for fast listing; Temporal's history stays the source of truth.

Lists are newest first and paged with an opaque cursor over ``(started_at, execution_id)``, so
pages stay stable while new runs start: a run never shows twice, and none is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import ConflictError, InvalidCursorError, NotFoundError
from keel.store.database import upsert_insert
from keel.store.tables import RunRow, as_utc, utcnow

TriggerType = Literal["api", "webhook", "schedule", "cli", "child", "error_handler"]
RunStatus = Literal[
    "queued", "running", "succeeded", "failed", "cancelled", "terminated", "timed_out"
]

TRIGGER_TYPES: frozenset[str] = frozenset(get_args(TriggerType))
RUN_STATUSES: frozenset[str] = frozenset(get_args(RunStatus))
#: ``queued``: accepted (its 202 sent) and in the outbox, not yet started in Temporal.
FINAL_STATUSES: frozenset[str] = RUN_STATUSES - {"queued", "running"}

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first, and the cursor of the next page (``None`` at the end)."""

    runs: list[RunRow]
    next_cursor: str | None


#: The run-summary ``INSERT … ON CONFLICT DO NOTHING`` of each dialect, plain and with
#: ``RETURNING execution_id`` (built once).
_RUN_INSERTS: dict[tuple[str, bool], Any] = {}


def _run_insert(session: AsyncSession, *, returning: bool) -> Any:
    """Return the run-summary insert of the session's database (values given at execution).

    ``returning``: it returns the id of each row it wrote, so one statement for many rows
    (SQLAlchemy's "insertmanyvalues": one multi-row ``INSERT`` on SQLite and PostgreSQL) still
    tells which rows were new. One row is told by the row count instead, which costs less than
    fetching a returned row.
    """
    key = (session.get_bind().dialect.name, returning)
    statement = _RUN_INSERTS.get(key)
    if statement is None:
        table = RunRow.__table__
        statement = upsert_insert(session)(table).on_conflict_do_nothing()
        if returning:
            statement = statement.returning(table.c.execution_id)
        _RUN_INSERTS[key] = statement
    return statement


async def record_run_start(
    session: AsyncSession,
    execution_id: str,
    *,
    workflow_id: str | None,
    version: int | None,
    trigger_type: TriggerType,
    started_at: datetime | None = None,
    parent_execution_id: str | None = None,
    parent_action: str | None = None,
    idempotency_key: str | None = None,
    exists_ok: bool = False,
    status: Literal["running", "queued"] = "running",
) -> RunRow:
    """Record that a run started (status ``running``), in one ``INSERT`` without a prior read.

    The insert skips a row that conflicts (``ON CONFLICT DO NOTHING``) instead of failing, so a
    conflict never aborts the caller's transaction (PostgreSQL would), and only then is the
    store read, to say which run was there first.

    Args:
        session: An open session.
        execution_id: The run's id (its Temporal workflow id).
        workflow_id: The stored workflow, or ``None`` for an ad hoc run of a file.
        version: The committed version run, or ``None`` for the draft / an ad hoc document.
        trigger_type: What started it.
        started_at: When it started (aware); now by default.
        parent_execution_id: The parent run of a child workflow.
        parent_action: The action ref in the parent that started this child.
        idempotency_key: A key that must start at most one run of this workflow.
        exists_ok: A row with this id already there is fine (a redelivery of a keyed delivery,
            whose run id is derived from its key): keep it and raise nothing.
        status: ``queued`` for a run that was accepted and waits in the outbox for its start.

    Returns:
        The row as written (not attached to the session; read it again to change it).

    Raises:
        ConflictError: A run with this id (unless ``exists_ok``), or this workflow and
            idempotency key, exists.
    """
    values = run_values(
        execution_id,
        workflow_id=workflow_id,
        version=version,
        trigger_type=trigger_type,
        started_at=started_at,
        parent_execution_id=parent_execution_id,
        parent_action=parent_action,
        idempotency_key=idempotency_key,
        status=status,
    )
    await insert_runs(session, [values], exists_ok=[exists_ok])
    return RunRow(**values)


def run_values(
    execution_id: str,
    *,
    workflow_id: str | None,
    version: int | None,
    trigger_type: TriggerType,
    started_at: datetime | None = None,
    parent_execution_id: str | None = None,
    parent_action: str | None = None,
    idempotency_key: str | None = None,
    status: Literal["running", "queued"] = "running",
) -> dict[str, Any]:
    """Return the values of a new summary row (the arguments of :func:`record_run_start`).

    Raises:
        ValueError: ``trigger_type`` is not one of :data:`TRIGGER_TYPES`.
    """
    _check_choice("trigger type", trigger_type, TRIGGER_TYPES)
    return {
        "execution_id": execution_id,
        "workflow_id": workflow_id,
        "version": version,
        "trigger_type": trigger_type,
        "status": status,
        "started_at": as_utc(started_at) if started_at else utcnow(),
        "parent_execution_id": parent_execution_id,
        "parent_action": parent_action,
        "idempotency_key": idempotency_key,
    }


async def insert_runs(
    session: AsyncSession,
    rows: Sequence[dict[str, Any]],
    *,
    exists_ok: Sequence[bool] | None = None,
) -> list[bool]:
    """Write summary rows (each from :func:`run_values`) in one statement, without a prior read.

    The group commit of webhook runs (:class:`~keel.api.run_records.RunRecorder`) writes a
    batch of concurrent deliveries' rows this way: one statement, not one per row. A row that
    conflicts is skipped (``ON CONFLICT DO NOTHING``), so a conflict never aborts the caller's
    transaction, and only then is the store read, to say which run was there first.

    Args:
        session: An open session.
        rows: The rows' values.
        exists_ok: For each row, whether its id may be taken already (see
            ``record_run_start``); none may when not given.

    Returns:
        For each row, in order, whether it is new (``False``: it was there, or an earlier row of
        ``rows`` had its id).

    Raises:
        ConflictError: A row's id (unless in ``exists_ok``), or its workflow and idempotency
            key, is taken.
    """
    if not rows:
        return []
    # On the table, not the mapped class: a Core insert skips the ORM's bulk-persistence layer
    # (a measurable share of a webhook delivery's CPU). Values as parameters: a statement built
    # anew per call costs a cache-key computation each time.
    if len(rows) == 1:
        result = await session.execute(_run_insert(session, returning=False), rows[0])
        written = {rows[0]["execution_id"]} if getattr(result, "rowcount", 1) else set()
    else:
        result = await session.execute(_run_insert(session, returning=True), list(rows))
        written = {row[0] for row in result}
    new: list[bool] = []
    allowed = [False] * len(rows) if exists_ok is None else exists_ok
    for values, may_exist in zip(rows, allowed, strict=True):
        execution_id = values["execution_id"]
        fresh = execution_id in written
        written.discard(execution_id)  # a second row with the same id in `rows` was not written
        if not fresh:
            await _explain_conflict(
                session,
                execution_id,
                values["workflow_id"],
                values["idempotency_key"],
                may_exist,
            )
        new.append(fresh)
    return new


async def mark_started(session: AsyncSession, execution_ids: Sequence[str]) -> None:
    """Move accepted runs that have started in Temporal from ``queued`` to ``running``.

    One statement; a row that has moved on already (refreshed to a final status) is left alone.
    """
    if execution_ids:
        statement = (
            update(RunRow)
            .where(RunRow.execution_id.in_(list(execution_ids)), RunRow.status == "queued")
            .values(status="running")
            .execution_options(synchronize_session=False)
        )
        await session.execute(statement)


async def _explain_conflict(
    session: AsyncSession,
    execution_id: str,
    workflow_id: str | None,
    idempotency_key: str | None,
    exists_ok: bool,
) -> None:
    """Raise the :class:`ConflictError` of an insert that found its row taken (or accept it)."""
    if idempotency_key is not None:
        earlier = await find_run_by_idempotency_key(session, workflow_id, idempotency_key)
        if earlier is not None and earlier.execution_id != execution_id:
            raise ConflictError(
                "run idempotency key",
                idempotency_key,
                f"already started run {earlier.execution_id}",
            )
    if not exists_ok:
        raise ConflictError("run", execution_id, "was already recorded")


async def update_run_status(
    session: AsyncSession,
    execution_id: str,
    status: RunStatus,
    *,
    ended_at: datetime | None = None,
    error: str | None = None,
) -> RunRow:
    """Set a run's status; a final status also sets ``ended_at`` (now by default).

    Raises:
        NotFoundError: No run has that id.
    """
    _check_choice("run status", status, RUN_STATUSES)
    row = await get_run(session, execution_id)
    row.status = status
    if status in FINAL_STATUSES:
        row.ended_at = as_utc(ended_at) if ended_at else utcnow()
    else:
        row.ended_at = None
    row.error = error
    await session.flush()
    return row


async def get_run(session: AsyncSession, execution_id: str) -> RunRow:
    """Return a run's summary.

    Raises:
        NotFoundError: No run has that id.
    """
    row = await session.get(RunRow, execution_id)
    if row is None:
        raise NotFoundError("run", execution_id)
    return row


async def list_runs(
    session: AsyncSession,
    *,
    workflow_id: str | None = None,
    status: RunStatus | Collection[RunStatus] | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
    trigger_type: TriggerType | None = None,
) -> RunPage:
    """Return a page of runs, newest first.

    Args:
        session: An open session.
        workflow_id: Only runs of this workflow.
        status: Only runs in this status (or any of these statuses).
        started_after: Only runs started at or after this time (inclusive).
        started_before: Only runs started before this time (exclusive).
        limit: Page size, 1 to ``MAX_PAGE_SIZE``.
        cursor: ``next_cursor`` of the previous page; ``None`` for the first page.
        trigger_type: Only runs started this way (``api``, ``webhook``, ``schedule``...).

    Raises:
        InvalidCursorError: ``cursor`` was not made by this function.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
    query = select(RunRow)
    if workflow_id is not None:
        query = query.where(RunRow.workflow_id == workflow_id)
    if status is not None:
        statuses = {status} if isinstance(status, str) else set(status)
        for one in statuses:
            _check_choice("run status", one, RUN_STATUSES)
        query = query.where(RunRow.status.in_(sorted(statuses)))
    if trigger_type is not None:
        query = query.where(RunRow.trigger_type == trigger_type)
    if started_after is not None:
        query = query.where(RunRow.started_at >= as_utc(started_after))
    if started_before is not None:
        query = query.where(RunRow.started_at < as_utc(started_before))
    if cursor is not None:
        at, execution_id = decode_cursor(cursor)
        query = query.where(
            or_(
                RunRow.started_at < at,
                and_(RunRow.started_at == at, RunRow.execution_id < execution_id),
            )
        )
    query = query.order_by(RunRow.started_at.desc(), RunRow.execution_id.desc()).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    if len(rows) <= limit:
        return RunPage(rows, None)
    last = rows[limit - 1]
    return RunPage(rows[:limit], encode_cursor(last.started_at, last.execution_id))


async def child_runs(session: AsyncSession, parent_execution_id: str) -> Sequence[RunRow]:
    """Return the child runs a run started, in the order they started."""
    query = (
        select(RunRow)
        .where(RunRow.parent_execution_id == parent_execution_id)
        .order_by(RunRow.started_at, RunRow.execution_id)
    )
    return (await session.scalars(query)).all()


async def find_run_by_idempotency_key(
    session: AsyncSession, workflow_id: str | None, idempotency_key: str
) -> RunRow | None:
    """Return the run of ``workflow_id`` started with ``idempotency_key``, or ``None``."""
    query = select(RunRow).where(RunRow.idempotency_key == idempotency_key)
    query = query.where(
        RunRow.workflow_id.is_(None) if workflow_id is None else RunRow.workflow_id == workflow_id
    )
    return (await session.scalars(query.limit(1))).one_or_none()


def encode_cursor(started_at: datetime, execution_id: str) -> str:
    """Return the opaque cursor that continues a listing after this run."""
    raw = json.dumps([as_utc(started_at).isoformat(), execution_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Return the ``(started_at, execution_id)`` a cursor holds.

    Raises:
        InvalidCursorError: The cursor is malformed.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, execution_id = json.loads(raw)
        at = as_utc(datetime.fromisoformat(at_text))
        if not isinstance(execution_id, str):
            raise TypeError("execution id is not text")
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursorError(
            f"invalid page cursor '{cursor[:40]}'; list again from the first page"
        ) from exc
    return at, execution_id


def _check_choice(what: str, value: str, choices: frozenset[str]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} '{value}'; expected one of {', '.join(sorted(choices))}")
