"""``GET /health``: whether the service can do its job (open, for load balancers and ``keel up``).

The answer checks Temporal (a service that cannot start runs is not healthy) and, when the API
runs under ``keel up``, lists each supervised process with its restarts:

- ``ok`` (200): Temporal answers and every supervised process runs;
- ``degraded`` (200): Temporal answers but a supervised process is down (being restarted), or
  this API process's orchestrating worker is (runs then go to the workers meanwhile);
- ``unavailable`` (503): Temporal does not answer; runs cannot be started.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

import keel
from keel.api.deps import get_state
from keel.api.state import ServiceState
from keel.config import get_settings
from keel.orchestration.home import StackInfo

router = APIRouter(tags=["health"])

#: How long the Temporal check may take before Temporal counts as unreachable.
TEMPORAL_CHECK_TIMEOUT = timedelta(seconds=2)


class Health(BaseModel):
    """The service's health.

    Attributes:
        status: ``ok``, ``degraded`` or ``unavailable``.
        version: Keel's version.
        temporal: ``ok`` or ``unreachable``.
        orchestration: In a ``keel api`` process that orchestrates runs: its workflow-only
            worker's state, ``running`` or ``restarting``.
        processes: Under ``keel up``: each supervised process (``state``, ``pid``,
            ``restarts``, ``last_exit``), by name.
    """

    status: str
    version: str
    temporal: str = "ok"
    orchestration: str | None = None
    processes: dict[str, dict[str, Any]] | None = None


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    summary="Service health",
    responses={503: {"model": Health, "description": "Temporal is unreachable"}},
)
async def health(state: Annotated[ServiceState, Depends(get_state)], response: Response) -> Health:
    """Return ``ok`` while Temporal answers and every supervised process runs."""
    try:
        reachable = await state.temporal.service_client.check_health(timeout=TEMPORAL_CHECK_TIMEOUT)
    except Exception:  # any failure to answer means "unreachable" here
        reachable = False
    info = StackInfo.live(get_settings().home.expanduser().resolve())
    processes = info.processes if info is not None and info.processes else None
    down = any(p.get("state") != "running" for p in (processes or {}).values())
    down = down or state.orchestration == "restarting"
    if not reachable:
        response.status_code = 503
        status = "unavailable"
    else:
        status = "degraded" if down else "ok"
    return Health(
        status=status,
        version=keel.__version__,
        temporal="ok" if reachable else "unreachable",
        orchestration=state.orchestration,
        processes=processes,
    )
