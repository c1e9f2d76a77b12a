"""The app factory: one FastAPI app over a :class:`~keel.api.state.ServiceState`.

Every management route needs an API key (``Authorization: Bearer``); ``/health``, ``/docs`` and
``/openapi.json`` are open, and webhooks authenticate by the secret in their URL. Errors are JSON
everywhere (see :mod:`keel.api.errors`); a body over ``KEEL_MAX_BODY_BYTES`` is a 413 before any
route reads it (:mod:`keel.api.body_limit`). The web console (:mod:`keel.console`) is served at
``/`` (pages under ``/ui``); it signs in with an API key and reads everything through this same API.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

import keel
from keel import console
from keel.api.body_limit import BodyLimit
from keel.api.child_checks import install_commit_checks
from keel.api.deps import require_api_key
from keel.api.errors import install_error_handlers
from keel.api.routes import OPEN_ROUTERS, ROUTERS
from keel.api.state import ServiceState

DESCRIPTION = """\
Keel's HTTP API: commit YAML workflows, start and inspect their runs, manage secrets, variables
and API keys. Send `Authorization: Bearer <api key>` on every call except `/health` and webhooks.
Every error is JSON: `{"error": {"message": ..., "field": ...}}`.
"""


def create_app(state: ServiceState) -> FastAPI:
    """Return the API app serving ``state`` (which the caller opens and closes)."""
    app = FastAPI(title="Keel", version=keel.__version__, description=DESCRIPTION)
    app.state.keel = state
    install_commit_checks(state)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=lambda: state.bounds.max_body_bytes)
    # A request is matched against the routes in order: the open routers (webhook deliveries,
    # the hot path, and /health) come first, so a delivery is not tried against every
    # management route before its own (~5% of an API process's CPU per /wait delivery).
    for router in OPEN_ROUTERS:
        app.include_router(router)
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(require_api_key)])
    app.include_router(console.router)
    app.mount(f"{console.PREFIX}/static", console.static_app, name="console-static")
    console.install(app)
    return app
