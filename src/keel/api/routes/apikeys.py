"""``/apikeys``: create (the key is shown once), list and revoke API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from keel.api.deps import get_state
from keel.api.schemas.apikeys import ApiKeyIn, ApiKeyOut, NewApiKeyOut
from keel.api.state import ServiceState
from keel.store import apikeys as key_store

router = APIRouter(prefix="/apikeys", tags=["api keys"])

State = Annotated[ServiceState, Depends(get_state)]


@router.post("", status_code=201, response_model=NewApiKeyOut, summary="Create an API key")
async def create_api_key(
    state: State, body: Annotated[ApiKeyIn | None, Body()] = None
) -> NewApiKeyOut:
    """Create a key; the response is the only time the key itself is shown."""
    async with state.database.session() as session:
        new = await key_store.create_api_key(session, (body or ApiKeyIn()).name)
    return NewApiKeyOut(
        id=new.id, name=new.name, prefix=new.prefix, created_at=new.created_at, key=new.key
    )


@router.get("", response_model=list[ApiKeyOut], summary="List API keys")
async def list_api_keys(state: State, include_revoked: bool = False) -> list[ApiKeyOut]:
    """Return the keys (ids, names, prefixes, use), never the keys themselves."""
    async with state.database.session() as session:
        rows = await key_store.list_api_keys(session, include_revoked=include_revoked)
        return [ApiKeyOut.of(row) for row in rows]


@router.delete("/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key")
async def revoke_api_key(key_id: str, state: State) -> ApiKeyOut:
    """Revoke a key: it stops working at once."""
    async with state.database.session() as session:
        return ApiKeyOut.of(await key_store.revoke_api_key(session, key_id))
