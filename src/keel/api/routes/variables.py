"""``/variables``: plain values per environment, read by workflows as ``VARS.<name>.<key>``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from keel.api.deps import get_state
from keel.api.schemas.secrets import (
    ENVIRONMENT_PATTERN,
    NAME_PATTERN,
    VariableIn,
    VariableOut,
    VariableValuesIn,
)
from keel.api.state import ServiceState
from keel.errors import ConflictError, NotFoundError
from keel.store import variables as variable_store
from keel.store.tables import VariableRow

router = APIRouter(prefix="/variables", tags=["variables"])

State = Annotated[ServiceState, Depends(get_state)]
Environment = Annotated[
    str, Query(pattern=ENVIRONMENT_PATTERN, description="The variables' environment.")
]
Name = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.post("", status_code=201, response_model=VariableOut, summary="Create a variable")
async def create_variable(
    body: VariableIn, state: State, environment: Environment = "default"
) -> VariableOut:
    """Create a variable (409 when the environment already has one of that name)."""
    created: VariableOut | None = None
    async with state.database.session() as session:
        try:
            await variable_store.get_variable(session, body.name, environment=environment)
        except NotFoundError:
            row = await variable_store.set_variable(
                session, body.name, body.values, environment=environment
            )
            created = _out(row)
    if created is not None:
        state.variables.clear()  # after the commit, so no run caches the old values again
        return created
    raise ConflictError(
        "variable", f"{environment}/{body.name}", "already exists; update it with PUT"
    )


@router.get("", response_model=list[VariableOut], summary="List variables")
async def list_variables(
    state: State,
    environment: Annotated[
        str | None,
        Query(pattern=ENVIRONMENT_PATTERN, description="Only this environment (default: all)."),
    ] = None,
) -> list[VariableOut]:
    """Return variables with their values, by environment and name."""
    async with state.database.session() as session:
        rows = await variable_store.list_variables(session, environment=environment)
        return [_out(row) for row in rows]


@router.get("/{name}", response_model=VariableOut, summary="Get a variable")
async def get_variable(
    name: Name, state: State, environment: Environment = "default"
) -> VariableOut:
    """Return one variable with its values."""
    async with state.database.session() as session:
        return _out(await variable_store.get_variable(session, name, environment=environment))


@router.put("/{name}", response_model=VariableOut, summary="Create or replace a variable")
async def put_variable(
    name: Name, body: VariableValuesIn, state: State, environment: Environment = "default"
) -> VariableOut:
    """Set the variable's values (all of them: keys not sent are removed)."""
    async with state.database.session() as session:
        row = await variable_store.set_variable(session, name, body.values, environment=environment)
        out = _out(row)
    state.variables.clear()
    return out


@router.delete("/{name}", status_code=204, summary="Delete a variable")
async def delete_variable(
    name: Name, state: State, environment: Environment = "default"
) -> Response:
    """Delete the variable (404 when there is none)."""
    async with state.database.session() as session:
        await variable_store.delete_variable(session, name, environment=environment)
    state.variables.clear()
    return Response(status_code=204)


def _out(row: VariableRow) -> VariableOut:
    return VariableOut(
        name=row.name,
        environment=row.environment,
        values=dict(row.values),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
