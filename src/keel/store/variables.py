"""Variables: plain (non-secret) values per environment, read by workflows as ``VARS.<name>``.

A variable is a JSON mapping, e.g. ``VARS.slack.channel`` reads key ``channel`` of variable
``slack``. Setting a variable replaces its whole mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.errors import NotFoundError
from keel.store.database import LazyDatabase
from keel.store.tables import VariableRow, utcnow

DEFAULT_ENVIRONMENT = "default"


async def set_variable(
    session: AsyncSession,
    name: str,
    values: Mapping[str, Any],
    *,
    environment: str = DEFAULT_ENVIRONMENT,
) -> VariableRow:
    """Create variable ``name`` in ``environment``, or replace its values."""
    row = await session.get(VariableRow, (environment, name))
    now = utcnow()
    if row is None:
        row = VariableRow(
            environment=environment, name=name, values=dict(values), created_at=now, updated_at=now
        )
        session.add(row)
    else:
        row.values = dict(values)
        row.updated_at = now
    await session.flush()
    return row


async def get_variable(
    session: AsyncSession, name: str, *, environment: str = DEFAULT_ENVIRONMENT
) -> VariableRow:
    """Return variable ``name`` of ``environment``.

    Raises:
        NotFoundError: The environment has no such variable.
    """
    row = await session.get(VariableRow, (environment, name))
    if row is None:
        raise NotFoundError("variable", f"{environment}/{name}")
    return row


async def list_variables(
    session: AsyncSession, *, environment: str | None = None
) -> Sequence[VariableRow]:
    """Return variables ordered by environment and name, optionally of one environment only."""
    query = select(VariableRow).order_by(VariableRow.environment, VariableRow.name)
    if environment is not None:
        query = query.where(VariableRow.environment == environment)
    return (await session.scalars(query)).all()


async def variables_mapping(
    session: AsyncSession, environment: str = DEFAULT_ENVIRONMENT
) -> dict[str, dict[str, Any]]:
    """Return every variable of ``environment`` as ``{name: values}``: a run's ``VARS``."""
    return {
        row.name: dict(row.values) for row in await list_variables(session, environment=environment)
    }


async def delete_variable(
    session: AsyncSession, name: str, *, environment: str = DEFAULT_ENVIRONMENT
) -> None:
    """Delete variable ``name`` of ``environment``.

    Raises:
        NotFoundError: The environment has no such variable.
    """
    await session.delete(await get_variable(session, name, environment=environment))
    await session.flush()


class StoreVariables:
    """Variables for runs that load their own, read from the store (a ``VariablesProvider``).

    Args:
        database: The store, opened and migrated on first use.
    """

    def __init__(self, database: LazyDatabase) -> None:
        self.database = database

    async def get(self, environment: str) -> dict[str, dict[str, Any]]:
        """Return ``{name: values}`` for every variable of ``environment``."""
        async with (await self.database.get()).session() as session:
            return await variables_mapping(session, environment)
