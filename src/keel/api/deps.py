"""FastAPI dependencies: the service state, the registry, and API-key authentication.

Sessions are not a dependency on purpose: a route opens ``state.database.session()`` itself, so
the transaction commits (and a commit failure becomes the response) before the response is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from keel.actions.registry import Registry
from keel.api.errors import ApiError
from keel.api.state import ServiceState
from keel.store import apikeys
from keel.store.tables import ApiKeyRow

#: Reads ``Authorization: Bearer <key>``; documents the scheme in OpenAPI (``/docs``).
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key made with `keel apikey create` (or `POST /apikeys`).",
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def state_of(request: Request) -> ServiceState:
    """Return the service state of the app serving ``request`` (for routes without dependencies)."""
    state: ServiceState = request.app.state.keel
    return state


async def get_state(request: Request) -> ServiceState:
    """Return :func:`state_of` ``request`` as a FastAPI dependency.

    Async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, which would
    cost every request a thread hand-off for one attribute read.
    """
    return state_of(request)


async def get_registry(state: Annotated[ServiceState, Depends(get_state)]) -> Registry:
    """Return the action registry."""
    return state.registry


async def require_api_key(
    state: Annotated[ServiceState, Depends(get_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiKeyRow:
    """Return the API key the request proves; refuse the request with 401 otherwise.

    Raises:
        ApiError: 401 with ``WWW-Authenticate: Bearer`` when the key is missing, unknown or revoked.
    """
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401,
            "missing API key: send 'Authorization: Bearer <key>' (create one with "
            "`keel apikey create`)",
            "Authorization",
            headers=_CHALLENGE,
        )
    async with state.database.session() as session:
        row = await apikeys.verify_api_key(session, credentials.credentials)
    if row is None:
        raise ApiError(401, "invalid or revoked API key", "Authorization", headers=_CHALLENGE)
    return row
