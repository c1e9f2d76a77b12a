"""API keys guard every management route; health, docs and the OpenAPI document are open."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute

from keel.api.routes import OPEN_ROUTERS, ROUTERS

pytestmark = pytest.mark.integration

MANAGEMENT = sorted(
    (method, route.path)
    for router in ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods
)


def concrete(path: str) -> str:
    """Fill every path parameter with a plausible value."""
    return re.sub(r"\{[^}]+\}", "x1", path)


@pytest.mark.parametrize(("method", "path"), MANAGEMENT, ids=[f"{m} {p}" for m, p in MANAGEMENT])
async def test_management_routes_need_a_valid_key(
    shared_app: tuple[httpx.AsyncClient, str], method: str, path: str
) -> None:
    anonymous, _ = shared_app
    url = concrete(path)
    missing = await anonymous.request(method, url, json={})
    assert missing.status_code == 401, missing.text
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["error"]["field"] == "Authorization"
    wrong = await anonymous.request(
        method, url, json={}, headers={"Authorization": "Bearer keel_abc_not-a-real-key"}
    )
    assert wrong.status_code == 401 and "invalid" in wrong.json()["error"]["message"]
    basic = await anonymous.request(method, url, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401


async def test_every_app_route_is_guarded_or_meant_to_be_open(
    shared_app: tuple[httpx.AsyncClient, str],
) -> None:
    app = shared_app[0]._transport.app  # type: ignore[attr-defined]
    open_paths = {
        r.path for router in OPEN_ROUTERS for r in router.routes if isinstance(r, APIRoute)
    }
    guarded = {path for _, path in MANAGEMENT}
    for route in app.routes:
        if isinstance(route, APIRoute):
            assert route.path in guarded | open_paths, route.path


async def test_health_and_docs_are_open(shared_app: tuple[httpx.AsyncClient, str]) -> None:
    anonymous, _ = shared_app
    health = await anonymous.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert (await anonymous.get("/docs")).status_code == 200
    spec = (await anonymous.get("/openapi.json")).json()
    assert "/workflows/{ref}/commit" in spec["paths"]
    assert "ApiKey" in spec["components"]["securitySchemes"]


async def test_a_revoked_key_stops_working(api: httpx.AsyncClient) -> None:
    made = await api.post("/apikeys", json={"name": "ci"})
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("keel_")
    headers = {"Authorization": f"Bearer {key}"}
    assert (await api.get("/workflows", headers=headers)).status_code == 200
    names = [k["name"] for k in (await api.get("/apikeys")).json()]
    assert "ci" in names and key not in (await api.get("/apikeys")).text
    assert (await api.delete(f"/apikeys/{made.json()['id']}")).json()["revoked_at"]
    assert (await api.get("/workflows", headers=headers)).status_code == 401
