"""The API's routers, one module per resource; :data:`ROUTERS` lists them for the app factory.

A router module exposes ``router`` (an :class:`fastapi.APIRouter`). Management routers require an
API key (the app factory adds the dependency); ``OPEN_ROUTERS`` are served without one (health, and
webhooks, which authenticate by their own secret).
"""

from __future__ import annotations

from fastapi import APIRouter

from keel.api.routes import apikeys, health, registry, runs, secrets, variables, workflows
from keel.api.routes import schedules as schedule_routes
from keel.api.routes import webhooks as webhook_routes

#: Routers that need ``Authorization: Bearer <api key>``.
ROUTERS: list[APIRouter] = [
    workflows.router,
    runs.router,
    registry.router,
    secrets.router,
    variables.router,
    apikeys.router,
    schedule_routes.router,
]

#: Routers served without an API key.
OPEN_ROUTERS: list[APIRouter] = [health.router, webhook_routes.router]
