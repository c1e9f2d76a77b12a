"""The API's error log: one line naming the route and the workflow, never the path's secret."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI, Request
from temporalio.service import RPCError, RPCStatusCode

from keel.api.errors import install_error_handlers

SECRET = "wh-TOPSECRET-abcdefghijklmnopqrstuvwxyz0123456789"


def app() -> FastAPI:
    """An app with the real error handlers and routes that fail the way the service can."""
    application = FastAPI()
    install_error_handlers(application)

    @application.post("/webhooks/{workflow_id}/{secret}")
    async def crash(request: Request) -> None:
        # An error whose text quotes the URL it failed on (as httpx and others do).
        raise RuntimeError(f"cannot handle {request.url}")

    @application.post("/webhooks/{workflow_id}/{secret}/wait")
    async def unavailable(request: Request) -> None:
        raise RPCError(f"no frontend for {request.url.path}", RPCStatusCode.UNAVAILABLE, b"")

    return application


async def post(path: str) -> httpx.Response:
    # Exceptions would reach the test as they would reach uvicorn (which logs their whole
    # traceback): none may.
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://keel.test") as client:
        return await client.post(path)


async def test_a_500_logs_route_and_workflow_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="keel.api.errors"):
        answer = await post(f"/webhooks/wf_abc/{SECRET}")
    assert answer.status_code == 500
    assert "TOPSECRET" not in answer.text
    assert SECRET not in caplog.text
    (record,) = caplog.records  # one entry, no traceback at INFO
    assert record.exc_info is None and "Traceback" not in caplog.text
    assert record.getMessage() == (
        "unexpected error on POST /webhooks/{workflow_id}/{secret} (workflow wf_abc): "
        "RuntimeError: cannot handle http://keel.test/webhooks/wf_abc/[REDACTED]"
    )


async def test_the_traceback_is_for_debug_and_bounded(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="keel.api.errors"):
        await post(f"/webhooks/wf_abc/{SECRET}")
    assert SECRET not in caplog.text
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 1 and "Traceback" in debug[0].getMessage()
    assert len(debug[0].getMessage()) <= 8100


async def test_a_temporal_refusal_names_no_path(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="keel.api.errors"):
        answer = await post(f"/webhooks/wf_abc/{SECRET}/wait")
    assert answer.status_code == 503
    assert SECRET not in caplog.text
    assert "POST /webhooks/{workflow_id}/{secret}/wait (workflow wf_abc)" in caplog.text
