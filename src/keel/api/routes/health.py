"""``GET /health``: whether the service is up (open, for load balancers and ``keel up`` checks)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

import keel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service's health."""

    status: str
    version: str


@router.get("/health", response_model=Health, summary="Service health")
async def health() -> Health:
    """Return ``ok`` while the service answers requests."""
    return Health(status="ok", version=keel.__version__)
