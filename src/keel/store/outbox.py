"""The outbox: accepted runs waiting for their start in Temporal (one row each, with a lease).

A plain webhook delivery is *accepted* by one transaction that writes the run's summary row
(status ``queued``) and its :class:`Accepted` entry here; the relay of an API process
(``keel.api.outbox``) then starts the run in Temporal and :func:`remove` s the entry. Each
entry is claimed by one API process at a time for a lease (``claimed_by``, ``claimed_until``):
the process that accepted it first, then whoever sweeps it up after the lease ran out (the
process died between the answer and the start). On PostgreSQL the claim skips rows another
transaction holds (``FOR UPDATE SKIP LOCKED``), so two API processes never take the same entry;
on SQLite the single writer serialises the claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import KeelError
from keel.store.database import upsert_insert
from keel.store.tables import OutboxRow, as_utc, utcnow


class OutboxFullError(KeelError):
    """The outbox holds its maximum of accepted runs (``KEEL_OUTBOX_MAX``): accept no more now.

    Attributes:
        limit: The maximum.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"{limit} accepted runs are already waiting to start (KEEL_OUTBOX_MAX); "
            "Temporal is not taking runs as fast as they arrive: retry later"
        )


@dataclass(frozen=True)
class Accepted:
    """What starting one accepted run needs (nothing secret: ``VARS`` are read at the start).

    Attributes:
        execution_id: The run's id (its Temporal workflow id).
        workflow_id: The stored workflow.
        version: The committed version to run.
        trigger_type: What accepted it (``webhook``).
        trigger: ``TRIGGER``, already checked against ``expects`` and bounded.
        environment: Overrides ``config.environment`` for this run (``None``: the workflow's).
        idempotency_key: The delivery's key, if it had one.
    """

    execution_id: str
    workflow_id: str
    version: int
    trigger_type: str
    trigger: Any = None
    environment: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Lease:
    """How one API process claims entries: its own name, and for how long a claim holds.

    Attributes:
        owner: The process's claim name (random per process).
        seconds: How long a claim holds unless renewed; after that any API process may sweep
            the entry up (so an entry of a process that died waits at most this long).
    """

    owner: str
    seconds: float

    def until(self) -> datetime:
        """Return when a claim made now runs out."""
        return utcnow() + timedelta(seconds=self.seconds)


_COLUMNS = (
    OutboxRow.execution_id,
    OutboxRow.workflow_id,
    OutboxRow.version,
    OutboxRow.trigger_type,
    OutboxRow.trigger,
    OutboxRow.environment,
    OutboxRow.idempotency_key,
)

#: The insert of entries of each dialect, on the table (a Core executemany; built once each).
_INSERTS: dict[str, Any] = {}


def _insert(session: AsyncSession) -> Any:
    """Return the entries' ``INSERT … ON CONFLICT DO NOTHING`` of the session's database.

    An entry already there (a keyed delivery whose summary row was lost, delivered again before
    its first start) is kept: its run is started once either way.
    """
    dialect = session.get_bind().dialect.name
    statement = _INSERTS.get(dialect)
    if statement is None:
        table = cast(Table, OutboxRow.__table__)
        statement = upsert_insert(session)(table).on_conflict_do_nothing()
        _INSERTS[dialect] = statement
    return statement


async def add(
    session: AsyncSession, entries: Sequence[Accepted], *, owner: str, until: datetime
) -> None:
    """Write ``entries``, claimed by ``owner`` until ``until`` (in one statement)."""
    if not entries:
        return
    now = utcnow()
    await session.execute(
        _insert(session),
        [
            {
                "execution_id": entry.execution_id,
                "workflow_id": entry.workflow_id,
                "version": entry.version,
                "trigger_type": entry.trigger_type,
                "trigger": entry.trigger,
                "environment": entry.environment,
                "idempotency_key": entry.idempotency_key,
                "accepted_at": now,
                "claimed_by": owner,
                "claimed_until": as_utc(until),
                "attempts": 0,
            }
            for entry in entries
        ],
    )


async def count(session: AsyncSession) -> int:
    """Return how many entries wait."""
    return int((await session.execute(select(func.count()).select_from(OutboxRow))).scalar_one())


async def find(session: AsyncSession, execution_id: str) -> Accepted | None:
    """Return the entry of run ``execution_id``, or ``None`` when it is not waiting."""
    row = (
        await session.execute(select(*_COLUMNS).where(OutboxRow.execution_id == execution_id))
    ).first()
    return None if row is None else Accepted(*row)


async def claim_expired(
    session: AsyncSession, *, owner: str, until: datetime, limit: int
) -> list[Accepted]:
    """Claim up to ``limit`` entries whose lease has run out, oldest lease first; return them.

    A cheap read first, so an idle sweep takes no write lock (SQLite has one writer).
    """
    now = utcnow()
    expired = OutboxRow.claimed_until < now
    if (
        await session.execute(select(OutboxRow.execution_id).where(expired).limit(1))
    ).first() is None:
        return []
    # One statement that picks and claims: on PostgreSQL the picking skips rows locked by another
    # process's claim (which then owns them); SQLite ignores FOR UPDATE and has one writer.
    picked = (
        select(OutboxRow.execution_id)
        .where(expired)
        .order_by(OutboxRow.claimed_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    claim = (
        update(OutboxRow)
        .where(OutboxRow.execution_id.in_(picked), expired)
        .values(claimed_by=owner, claimed_until=as_utc(until))
        .returning(*_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(claim)).all()
    return [Accepted(*row) for row in rows]


async def renew(
    session: AsyncSession,
    execution_ids: Sequence[str],
    *,
    owner: str,
    until: datetime,
    error: str | None = None,
) -> set[str]:
    """Extend ``owner``'s lease on these entries (after a failed start); return those still its.

    An entry missing from the answer was taken over by another process (the lease had run out)
    or is gone: the caller must leave it alone. ``error`` is recorded with one more attempt.
    """
    if not execution_ids:
        return set()
    values: dict[str, Any] = {"claimed_until": as_utc(until)}
    if error is not None:
        values.update(attempts=OutboxRow.attempts + 1, last_error=error[:2000])
    statement = (
        update(OutboxRow)
        .where(OutboxRow.execution_id.in_(list(execution_ids)), OutboxRow.claimed_by == owner)
        .values(**values)
        .returning(OutboxRow.execution_id)
        .execution_options(synchronize_session=False)
    )
    return set((await session.execute(statement)).scalars().all())


async def release(session: AsyncSession, *, owner: str) -> int:
    """End ``owner``'s leases now, so any API process sweeps its entries up at once.

    Returns:
        How many entries were released.
    """
    statement = (
        update(OutboxRow)
        .where(OutboxRow.claimed_by == owner)
        .values(claimed_by=None, claimed_until=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def remove(session: AsyncSession, execution_ids: Sequence[str]) -> None:
    """Delete the entries of runs that started (one statement)."""
    if execution_ids:
        statement = delete(OutboxRow).where(OutboxRow.execution_id.in_(list(execution_ids)))
        await session.execute(statement.execution_options(synchronize_session=False))
