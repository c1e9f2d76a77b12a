"""``/webhooks/{workflow_id}/{secret}``: HTTP in, nothing else.

The route turns the request into a :class:`~keel.triggers.webhook.WebhookRequest` (the body as
it streams in, headers, method, client address) and hands it to
:func:`keel.triggers.webhook.receive`; a refusal becomes its status with the usual JSON error
(``{"error": {"message", "field", "problems"}}``, ``Allow`` on a 405). Runs are accepted or
started through :mod:`keel.api.deliveries`. The plain form answers 202 as soon as its runs are
*accepted*: recorded in the store (status ``queued``) with an outbox entry the API starts them
from right after (without waiting on Temporal; 503 with ``Retry-After`` when
``KEEL_OUTBOX_MAX`` runs already wait). The ``/wait`` form starts its runs in Temporal and waits
for the result up to the webhook's ``wait_timeout_seconds`` (504 with the execution id after
that, so the caller can poll ``GET /runs/{id}``).

These routes take no API key: the secret in the URL is the credential.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from keel.api.deliveries import (
    WebhookTarget,
    accept_runs,
    find_target,
    start_runs,
    wait_outcomes,
)
from keel.api.deps import state_of
from keel.api.errors import ApiError
from keel.api.schemas.webhooks import (
    WebhookBatchResult,
    WebhookBatchStarted,
    WebhookRunResult,
    WebhookStarted,
)
from keel.api.state import ServiceState
from keel.errors import WebhookError
from keel.triggers.webhook import WebhookRequest, WebhookRun, receive

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

PATH = "/{workflow_id}/{secret}"

#: The request part each refusal concerns (the ``field`` of the error).
_FIELDS = {
    400: "body",
    401: "signature",
    403: "client",
    405: "method",
    413: "body",
    422: "body",
}
_FIELD = re.compile(r"field '([^']+)'")
_ITEM = re.compile(r"^item (\d+) of the body")

#: Methods no webhook accepts still reach the webhook's own checks, so the 405 names the methods
#: this webhook does accept (and a wrong secret is a 404 whatever the method).
_OTHER_METHODS = ["PUT", "PATCH", "DELETE"]

_ERRORS: dict[int | str, dict[str, str]] = {
    400: {
        "description": "The body cannot be read as its content type, nests deeper than "
        "KEEL_MAX_JSON_DEPTH (the line is named for NDJSON), or a key is missing; no run was "
        "started."
    },
    401: {"description": "The HMAC signature is missing, wrong or stale."},
    403: {"description": "The client address is not in the allowlist."},
    404: {"description": "No webhook at this address (unknown workflow or wrong secret)."},
    405: {"description": "The webhook does not accept this method (see Allow)."},
    413: {
        "description": "The body is larger than max_body_bytes (or KEEL_MAX_BODY_BYTES), or an "
        "NDJSON body has more lines than KEEL_MAX_RUNS_PER_REQUEST, or a form or multipart body "
        "has more fields or parts than Keel reads (1,000); no run was started."
    },
    422: {"description": "The payload does not match entrypoint.expects (each field named)."},
}


_STARTED: dict[str, Any] = {
    "status_code": 202,
    "response_model": WebhookStarted | WebhookBatchStarted,
    "summary": "Deliver to a workflow's webhook: accept a run per payload",
    "responses": {
        **_ERRORS,
        503: {
            "description": "KEEL_OUTBOX_MAX accepted runs already wait to start; retry after "
            "Retry-After seconds (nothing was accepted)."
        },
    },
}
_WAITED: dict[str, Any] = {
    "response_model": WebhookRunResult | WebhookBatchResult,
    "summary": "Deliver to a workflow's webhook and wait for the result",
    "responses": {**_ERRORS, 504: {"description": "The run did not end in time (poll /runs)."}},
}


@router.post(PATH, operation_id="deliver_webhook", **_STARTED)
@router.get(PATH, operation_id="deliver_webhook_get", **_STARTED)
async def deliver(workflow_id: str, secret: str, request: Request) -> Response:
    """Check the delivery and accept its run(s); answer once they are stored, before Temporal.

    JSON, form, multipart or text bodies accept one run; NDJSON one run per line. Accepted runs
    start in Temporal right after (``GET /runs/{id}`` says ``queued`` until then). A redelivery
    with the same idempotency key answers with the first run's id.
    """
    state = state_of(request)
    target, runs = await _receive(state, workflow_id, secret, request)
    ids = await accept_runs(state, target, runs)
    started = (
        WebhookBatchStarted(execution_ids=ids)
        if len(runs) > 1
        else WebhookStarted(execution_id=ids[0])
    )
    return _json(started, 202)


@router.post(PATH + "/wait", operation_id="deliver_webhook_wait", **_WAITED)
@router.get(PATH + "/wait", operation_id="deliver_webhook_wait_get", **_WAITED)
async def deliver_and_wait(workflow_id: str, secret: str, request: Request) -> Response:
    """Like the plain form, then wait for the run(s) up to the webhook's ``wait_timeout_seconds``.

    The runs start now, where that is quickest (:meth:`~keel.api.state.ServiceState.placement`).
    Runs this process orchestrates itself first take a place in its admission queue
    (:mod:`keel.api.admission`), held until they have been waited for. A run that fails still
    answers 200, with ``status`` and ``error`` saying how it ended.
    """
    state = state_of(request)
    target, runs = await _receive(state, workflow_id, secret, request)
    inline = state.orchestrates_here(inline=target.runnable.stays_in_workflow)
    async with state.admission.place() if inline else contextlib.nullcontext():
        started = await start_runs(state, target, runs, wait=True)
        timeout = target.settings.wait_timeout_seconds
        outcomes = await wait_outcomes(started, timeout)
    if outcomes is None:
        ids = [run.execution_id for run in started]
        where = ", ".join(f"/runs/{one}" for one in ids)
        raise ApiError(
            504,
            f"the run did not finish within {timeout:g} s; it goes on: poll GET {where}",
            None,
            execution_id=ids[0],
            execution_ids=ids,
        )
    results = [WebhookRunResult.model_validate(o, from_attributes=True) for o in outcomes]
    return _json(WebhookBatchResult(runs=results) if len(runs) > 1 else results[0], 200)


@router.api_route(PATH, methods=_OTHER_METHODS, include_in_schema=False)
async def deliver_other(workflow_id: str, secret: str, request: Request) -> None:
    """Refuse a method no webhook accepts, after the secret check (404 or 405)."""
    await _receive(state_of(request), workflow_id, secret, request)


@router.api_route(PATH + "/wait", methods=_OTHER_METHODS, include_in_schema=False)
async def deliver_other_wait(workflow_id: str, secret: str, request: Request) -> None:
    """Refuse a method no webhook accepts on the ``/wait`` form too."""
    await _receive(state_of(request), workflow_id, secret, request)


def _json(body: BaseModel, status: int) -> Response:
    """Return ``body`` as the JSON answer; the route's ``response_model`` documents it.

    Returning a response skips FastAPI's check of the value against that model (the bodies are
    built from these models here) and its serialization through ``jsonable_encoder``.
    """
    return Response(body.model_dump_json(), status, media_type="application/json")


async def _receive(
    state: ServiceState, workflow_id: str, secret: str, request: Request
) -> tuple[WebhookTarget, list[WebhookRun]]:
    """Check the delivery (address, method, signature, body); return its target and its runs.

    Raises:
        ApiError: The delivery is refused (its status, with the part of the request concerned).
    """
    delivery = WebhookRequest(
        method=request.method,
        client=request.client.host if request.client else None,
        headers=request.headers,
        body=request.stream(),
        secret=secret,
        query=request.url.query,
    )
    try:
        target = await find_target(state, workflow_id, secret)
    except WebhookError as exc:
        raise _refusal(exc, None) from None
    try:
        runs = await receive(
            delivery,
            target.settings,
            workflow_id=target.workflow_id,
            expected_secret=target.secret,
            signing_secrets=target.signing_secrets,
            expects=target.workflow.entrypoint.expects,
            now=time.time(),
            bounds=state.bounds,
        )
    except WebhookError as exc:
        raise _refusal(exc, target) from None
    return target, runs


def _refusal(exc: WebhookError, target: WebhookTarget | None) -> ApiError:
    """Return the JSON error of a refused delivery."""
    headers = None
    if exc.status == 405 and target is not None:
        headers = {"Allow": ", ".join(target.settings.methods)}
    extra = {}
    if exc.problems:
        extra["problems"] = [_problem(exc.message, text) for text in exc.problems]
    field = _FIELDS.get(exc.status)
    if exc.problems and exc.status == 422:
        field = extra["problems"][0]["field"]
    return ApiError(exc.status, exc.message, field, headers=headers, **extra)


def _problem(message: str, text: str) -> dict[str, str]:
    """Return ``{"field", "message"}`` for one problem of a refused payload."""
    item = _ITEM.match(message)
    base = f"body[{item.group(1)}]" if item else "body"
    match = _FIELD.search(text)
    return {"field": f"{base}.{match.group(1)}" if match else base, "message": text}
