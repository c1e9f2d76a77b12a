"""Idempotency keys of webhook deliveries, and the Temporal workflow ids derived from them.

A delivery's key comes from a header (``Idempotency-Key``, ``X-GitHub-Delivery``) or from an
expression over its payload. :func:`run_id_for` maps a key to a deterministic workflow id, so a
redelivery asks Temporal to start a workflow id it already knows; the API starts it with a
reuse policy that rejects duplicates and answers with the first run's id.

A signed webhook (``signature``) is keyed by what its signature covers
(:func:`~keel.triggers.signatures.signed_digest`: the body, and the timestamp of timestamped
schemes) unless an ``expression`` key is set (the payload is signed, so its value is too). A
``header`` key is not used for it: a delivery id header is not signed, so someone who captured a
delivery could replay it with a new id (or none) and start a new run each time. A replayed
delivery is therefore always the same run; an honest redelivery (same body, same signature) too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from keel.errors import ExpressionError, WebhookError
from keel.expressions import evaluate
from keel.triggers.signatures import signed_digest
from keel.triggers.webhook_settings import IdempotencySettings, WebhookSettings

#: The longest part of a workflow id kept as written in a run id; the hash covers all of it.
_MAX_WORKFLOW_ID = 100


def idempotency_key(
    settings: WebhookSettings, headers: Mapping[str, str], payload: Any
) -> str | None:
    """Return a delivery's idempotency key, or ``None`` when it has none.

    Args:
        settings: The webhook's settings; without ``idempotency`` there is never a key.
        headers: The request headers; names are matched without regard to case.
        payload: The delivery's payload (``TRIGGER``), for an expression key.

    Returns:
        The key: the header value (stripped), or the expression's value (a string as it is,
        anything else as compact JSON with sorted keys). An empty value is no key.

    Raises:
        WebhookError: 400 when the expression fails, or when ``required`` is set and there is no
            key.
    """
    config = settings.idempotency
    if config is None:
        return None
    key = _from_header(config, headers) if config.header else _from_expression(config, payload)
    if key is None and config.required:
        where = f"header {config.header}" if config.header else f"expression {config.expression}"
        raise WebhookError(400, f"the delivery has no idempotency key (from {where})")
    return key


def idempotency_keys(
    settings: WebhookSettings,
    headers: Mapping[str, str],
    payloads: Sequence[Any],
    body: bytes | None = None,
) -> list[str | None]:
    """Return the idempotency key of each payload of one delivery (NDJSON gives several).

    A header (or a signed webhook's digest) names the whole delivery, so when it carries several
    payloads each key gets the payload's position (``"<key>#2"``); an expression key is per
    payload already.

    Args:
        settings: The webhook's settings.
        headers: The request headers.
        payloads: The delivery's payloads.
        body: The raw body of a delivery whose signature was verified; a signed webhook without
            an ``expression`` key is keyed by its signed digest (see the module docstring).
    """
    keys = [idempotency_key(settings, headers, payload) for payload in payloads]
    config = settings.idempotency
    if settings.signature is not None and body is not None and (config is None or config.header):
        signed = f"signed-{signed_digest(settings.signature, headers, body)}"
        keys = [signed] * len(payloads)
    elif config is None or not config.header:
        return keys
    if len(payloads) > 1:
        return [None if k is None else f"{k}#{n}" for n, k in enumerate(keys, start=1)]
    return keys


def run_id_for(workflow_id: str, key: str) -> str:
    """Return the Temporal workflow id of the run a keyed delivery starts.

    The id is deterministic (the same workflow and key give the same id) and bounded in length
    (at most ~140 characters): ``wh-<workflow_id>-<32 hex digits of sha256(workflow_id, key)>``.
    """
    digest = hashlib.sha256(f"{workflow_id}\n{key}".encode()).hexdigest()[:32]
    return f"wh-{workflow_id[:_MAX_WORKFLOW_ID]}-{digest}"


def _from_header(config: IdempotencySettings, headers: Mapping[str, str]) -> str | None:
    wanted = (config.header or "").lower()
    for name, value in headers.items():
        if name.lower() == wanted:
            return value.strip() or None
    return None


def _from_expression(config: IdempotencySettings, payload: Any) -> str | None:
    try:
        value = evaluate(config.template or "", {"TRIGGER": payload})
    except ExpressionError as exc:
        raise WebhookError(400, f"the idempotency key expression failed: {exc}") from None
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
