"""``/actions``: the action registry, for editors and the UI (names, docs, argument schemas)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from keel.actions.registry import Registry
from keel.actions.schema import did_you_mean
from keel.api.deps import get_registry
from keel.api.errors import ApiError
from keel.api.schemas.actions import ActionOut
from keel.dsl.catalog import unavailable_tracecat_action

router = APIRouter(prefix="/actions", tags=["actions"])


@router.get("", response_model=list[ActionOut], summary="List the registered actions")
async def list_actions(registry: Annotated[Registry, Depends(get_registry)]) -> list[ActionOut]:
    """Return every registered action, sorted by name."""
    return [ActionOut.of(spec) for spec in sorted(registry.specs(), key=lambda s: s.name)]


@router.get("/{name}", response_model=ActionOut, summary="Describe one action")
async def get_action(name: str, registry: Annotated[Registry, Depends(get_registry)]) -> ActionOut:
    """Return one action with the JSON schema of its arguments."""
    spec = registry.find(name)
    if spec is None:
        hint = unavailable_tracecat_action(name) or did_you_mean(name, registry.names())
        raise ApiError(404, f"no action named '{name}'{hint}", "name")
    return ActionOut.of(spec)
