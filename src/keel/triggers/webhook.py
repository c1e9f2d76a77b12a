"""Webhook deliveries: who may call, what they sent, and which runs it asks for.

The API route only adapts HTTP to plain values: it builds a :class:`WebhookRequest` and calls
:func:`receive`, which runs every check in order and either returns the runs to start or raises a
:class:`~keel.errors.WebhookError` carrying the HTTP status; nothing is started on an error.

Order of the checks (each status is what the error carries):

1. the URL secret, its SHA-256 digest compared in constant time with the stored one (404, so a
   wrong secret and an unknown workflow look the same);
2. the method (405);
3. the client address against the allowlist (403);
4. the declared ``Content-Length``, then the streamed body, against ``max_body_bytes`` (413),
   itself at most ``KEEL_MAX_BODY_BYTES``;
5. the HMAC signature over the raw body (401);
6. the body parsed by content type (400; JSON deeper than ``KEEL_MAX_JSON_DEPTH`` too, and 413
   for an NDJSON body of more than ``KEEL_MAX_RUNS_PER_REQUEST`` lines or a form of more than
   :data:`~keel.triggers.payloads.MAX_FORM_FIELDS` fields); a ``GET`` without a
   body takes its query string; a body over
   :data:`~keel.triggers.payloads.INLINE_PARSE_BYTES` is parsed in a worker thread, so the
   event loop goes on serving other requests meanwhile;
7. each payload against ``entrypoint.expects``, with defaults applied (422, naming each field);
8. each payload's idempotency key (400 only when a required key is missing); a signed webhook
   is keyed by the digest of what its signature covers, so a replayed delivery is the same run
   (see :mod:`keel.triggers.idempotency`).

The pieces are public too (:func:`check_secret`, :func:`check_method`, ...), for callers that
need only some of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
from collections.abc import AsyncIterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keel.dsl.expects import check_inputs
from keel.dsl.model import ExpectedField
from keel.errors import WebhookError
from keel.triggers.bounds import DEFAULT_BOUNDS, InputBounds
from keel.triggers.idempotency import idempotency_key, idempotency_keys, run_id_for
from keel.triggers.payloads import (
    INLINE_PARSE_BYTES,
    check_content_length,
    parse_form,
    parse_payload,
    read_body,
)
from keel.triggers.signatures import verify_signature
from keel.triggers.webhook_settings import WebhookSettings, load_webhook_settings

__all__ = [
    "WebhookError",
    "WebhookRequest",
    "WebhookRun",
    "WebhookSettings",
    "check_client",
    "check_method",
    "check_payload",
    "check_secret",
    "idempotency_key",
    "idempotency_keys",
    "load_webhook_settings",
    "parse_payload",
    "read_body",
    "receive",
    "run_id_for",
    "secret_digest",
    "verify_signature",
]


@dataclass(frozen=True)
class WebhookRequest:
    """A webhook request as plain values (the route builds it from its framework's request).

    Attributes:
        method: The HTTP method.
        client: The client's IP address (after any trusted-proxy handling), or ``None``.
        headers: The request headers; names are matched without regard to case.
        body: The body as it streams in.
        query: The raw query string (without ``?``), used as the payload of a bodiless ``GET``.
        secret: The secret from the URL.
    """

    method: str
    client: str | None
    headers: Mapping[str, str]
    body: AsyncIterable[bytes]
    secret: str
    query: str = ""


@dataclass(frozen=True)
class WebhookRun:
    """One run a delivery asks for.

    Attributes:
        payload: The run's ``TRIGGER``, with ``expects`` defaults applied.
        idempotency_key: The delivery's key, or ``None``.
        run_id: The deterministic workflow id for a keyed delivery (see
            :func:`~keel.triggers.idempotency.run_id_for`); ``None`` means any fresh id.
    """

    payload: Any
    idempotency_key: str | None
    run_id: str | None


async def receive(
    request: WebhookRequest,
    settings: WebhookSettings,
    *,
    workflow_id: str,
    expected_secret: str,
    signing_secrets: Sequence[str] = (),
    expects: Mapping[str, ExpectedField] | None = None,
    now: float,
    bounds: InputBounds = DEFAULT_BOUNDS,
) -> list[WebhookRun]:
    """Check a webhook request and return the runs it asks for (see the module docstring).

    Args:
        request: The request.
        settings: The webhook's settings.
        workflow_id: The workflow the URL names.
        expected_secret: The digest of the workflow's webhook secret (:func:`secret_digest`).
        signing_secrets: The resolved HMAC secrets, when ``settings.signature`` is set.
        expects: The workflow's ``entrypoint.expects``.
        now: The current Unix time, for signature timestamps.
        bounds: The service-wide limits (body size, JSON depth, runs per request).

    Returns:
        One run per payload (NDJSON gives several), in body order; never empty.

    Raises:
        WebhookError: The request is refused; its ``status`` is the HTTP status to answer.
    """
    if not check_secret(request.secret, expected_secret):
        raise WebhookError(404, "no webhook at this address")
    check_method(request.method, settings)
    check_client(request.client, settings)
    lowered = {name.lower(): value for name, value in request.headers.items()}
    limit = min(settings.max_body_bytes, bounds.max_body_bytes)
    check_content_length(lowered.get("content-length"), limit)
    body = await read_body(request.body, limit)
    verify_signature(settings, lowered, body, now, signing_secrets)
    if request.method.upper() == "GET" and not body.strip() and request.query:
        payloads: list[Any] = [parse_form(request.query.encode())]
    elif len(body) <= INLINE_PARSE_BYTES:
        payloads = parse_payload(body, lowered.get("content-type"), bounds)
    else:
        # Up to ~1 s of CPU for a large body (the email and form parsers are pure Python): off
        # the event loop, which the interpreter switches back to every few milliseconds.
        payloads = await asyncio.to_thread(parse_payload, body, lowered.get("content-type"), bounds)
    checked = [
        check_payload(expects or {}, payload, item=n if len(payloads) > 1 else None)
        for n, payload in enumerate(payloads, start=1)
    ]
    keys = idempotency_keys(settings, lowered, checked, body)
    return [
        WebhookRun(payload, key, None if key is None else run_id_for(workflow_id, key))
        for payload, key in zip(checked, keys, strict=True)
    ]


def secret_digest(secret: str) -> str:
    """Return what the store keeps of a webhook secret: its SHA-256 digest, in hex.

    A plain hash suffices (no salt, no slow KDF): the secret is 256 random bits, not a password
    a dictionary could guess.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def check_secret(given: str, expected_digest: str) -> bool:
    """Return whether the secret from the URL is the webhook's, comparing digests in constant time.

    An empty expected digest never matches (a webhook without a secret accepts nothing).
    """
    return bool(expected_digest) and hmac.compare_digest(
        secret_digest(given).encode(), expected_digest.encode()
    )


def check_method(method: str, settings: WebhookSettings) -> None:
    """Refuse a method the webhook does not accept.

    Raises:
        WebhookError: 405 naming the accepted methods (the route should send them as ``Allow``).
    """
    if method.upper() not in settings.methods:
        allowed = ", ".join(settings.methods)
        raise WebhookError(
            405, f"method {method.upper()} is not allowed; this webhook accepts {allowed}"
        )


def check_client(ip: str | None, settings: WebhookSettings) -> None:
    """Refuse a client whose address is not in the allowlist (an empty allowlist allows all).

    An IPv4 address written as IPv6 (``::ffff:203.0.113.7``) matches IPv4 entries.

    Raises:
        WebhookError: 403 naming the address.
    """
    if not settings.allowlist:
        return
    if not ip:
        raise WebhookError(403, "the client address is unknown and this webhook has an allowlist")
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        raise WebhookError(403, f"client address '{ip}' is not an IP address") from None
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    for network in settings.allowlist:
        if any(c.version == network.version and c in network for c in candidates):
            return
    raise WebhookError(403, f"client address {ip} is not in this webhook's allowlist")


def check_payload(
    expects: Mapping[str, ExpectedField], payload: Any, *, item: int | None = None
) -> Any:
    """Check a payload against ``entrypoint.expects``; return it with defaults applied.

    Args:
        expects: The workflow's ``entrypoint.expects``.
        payload: One payload from :func:`~keel.triggers.payloads.parse_payload`.
        item: The payload's position in a multi-payload (NDJSON) body, named in the error.

    Raises:
        WebhookError: 422 with one problem per bad field, each naming the field.
    """
    checked, problems = check_inputs(expects, payload)
    if problems:
        where = f"item {item} of the body" if item is not None else "the payload"
        raise WebhookError(422, f"{where} does not match the workflow's expects", problems)
    return checked
