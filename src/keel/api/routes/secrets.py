"""``/secrets``: secrets per environment; values go in encrypted and never come back out."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keel.api.deps import get_state
from keel.api.schemas.secrets import (
    ENVIRONMENT_PATTERN,
    NAME_PATTERN,
    SecretIn,
    SecretOut,
    SecretValuesIn,
)
from keel.api.state import ServiceState
from keel.errors import ConflictError
from keel.store import secrets as secret_store
from keel.store.secrets import SecretInfo

router = APIRouter(prefix="/secrets", tags=["secrets"])

State = Annotated[ServiceState, Depends(get_state)]
Environment = Annotated[
    str, Query(pattern=ENVIRONMENT_PATTERN, description="The secrets environment.")
]
Name = Annotated[str, Path(pattern=NAME_PATTERN)]


@router.post("", status_code=201, response_model=SecretOut, summary="Create a secret")
async def create_secret(
    body: SecretIn, state: State, environment: Environment = "default"
) -> SecretOut:
    """Create a secret (409 when the environment already has one of that name)."""
    async with state.database.session() as session:
        if await _exists(session, body.name, environment):
            raise ConflictError(
                "secret", f"{environment}/{body.name}", "already exists; update it with PUT"
            )
        info = await secret_store.set_secret(
            session, state.cipher, body.name, body.values, environment=environment
        )
    return _out(info)


@router.get("", response_model=list[SecretOut], summary="List secrets (names and keys only)")
async def list_secrets(
    state: State,
    environment: Annotated[
        str | None,
        Query(pattern=ENVIRONMENT_PATTERN, description="Only this environment (default: all)."),
    ] = None,
) -> list[SecretOut]:
    """Return secrets with their key names; values are never returned."""
    async with state.database.session() as session:
        found = await secret_store.list_secrets(session, environment=environment)
    return [_out(info) for info in found]


@router.put("/{name}", response_model=SecretOut, summary="Create or replace a secret")
async def put_secret(
    name: Name, body: SecretValuesIn, state: State, environment: Environment = "default"
) -> SecretOut:
    """Set the secret's values (all of them: keys not sent are removed)."""
    async with state.database.session() as session:
        info = await secret_store.set_secret(
            session, state.cipher, name, body.values, environment=environment
        )
    return _out(info)


@router.delete("/{name}", status_code=204, summary="Delete a secret")
async def delete_secret(name: Name, state: State, environment: Environment = "default") -> Response:
    """Delete the secret (404 when there is none)."""
    async with state.database.session() as session:
        await secret_store.delete_secret(session, name, environment=environment)
    return Response(status_code=204)


async def _exists(session: AsyncSession, name: str, environment: str) -> bool:
    listed = await secret_store.list_secrets(session, environment=environment)
    return any(info.name == name for info in listed)


def _out(info: SecretInfo) -> SecretOut:
    data = dataclasses.asdict(info)
    data["keys"] = list(info.keys)
    return SecretOut(**data)
