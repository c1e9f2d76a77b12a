"""HMAC verification of webhook deliveries: Stripe-, GitHub-, Slack-style and generic schemes.

Every scheme signs the *raw* body (never a re-serialised payload). Several secrets may be given,
so a secret can be rotated: a signature made with any of them is accepted. Comparisons are in
constant time. A failure is a :class:`~keel.errors.WebhookError` with status 401 whose message says
what is wrong (missing header, malformed header, no match, stale timestamp) and never carries an
expected signature or a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from keel.errors import WebhookError
from keel.triggers.webhook_settings import SignatureSettings, WebhookSettings

STRIPE_HEADER = "Stripe-Signature"
GITHUB_HEADER = "X-Hub-Signature-256"
SLACK_SIGNATURE_HEADER = "X-Slack-Signature"
SLACK_TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"


def verify_signature(
    settings: WebhookSettings | SignatureSettings,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    secrets: Iterable[str],
) -> None:
    """Check a delivery's HMAC signature; do nothing when the webhook has no ``signature``.

    Args:
        settings: The webhook's settings (or just their ``signature`` part).
        headers: The request headers; names are matched without regard to case.
        body: The raw request body, exactly as received.
        now: The current Unix time, in seconds.
        secrets: The signing secrets, resolved (``settings.signature.secrets`` may hold
            ``${{ SECRETS... }}`` references, which only the caller can resolve). Empty strings
            are skipped.

    Raises:
        WebhookError: 401 when the signature is missing, malformed, matches no secret, or its
            timestamp is outside the tolerance; 500 when no usable secret was given (the webhook
            fails closed rather than accepting unsigned deliveries).
    """
    signature = settings.signature if isinstance(settings, WebhookSettings) else settings
    if signature is None:
        return
    keys = [secret.encode() for secret in secrets if secret]
    if not keys:
        raise WebhookError(500, "signature verification is configured but no secret is set")
    lowered = {name.lower(): value for name, value in headers.items()}
    if signature.scheme == "stripe":
        _verify_stripe(signature, lowered, body, now, keys)
    elif signature.scheme == "github":
        _verify_github(lowered, body, keys)
    elif signature.scheme == "slack":
        _verify_slack(signature, lowered, body, now, keys)
    else:
        _verify_generic(signature, lowered, body, now, keys)


def signed_digest(signature: SignatureSettings, headers: Mapping[str, str], body: bytes) -> str:
    """Return the SHA-256 (hex) of exactly what a verified delivery's signature covers.

    That is the body, and for timestamped schemes the timestamp with it (Stripe's ``t=``,
    Slack's ``X-Slack-Request-Timestamp``, a generic ``timestamp_header``). Anything else in the
    request (a delivery id header such as ``X-GitHub-Delivery``) is not signed, so anyone who
    saw a delivery can change it: a replay is recognised by this digest, not by those headers.

    Args:
        signature: The webhook's signature settings.
        headers: The request headers, names lower-cased (call after :func:`verify_signature`).
        body: The raw body.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    timestamp = b""
    if signature.scheme == "stripe":
        parts = (
            item.strip().partition("=") for item in lowered.get("stripe-signature", "").split(",")
        )
        timestamp = next((text for name, _, text in parts if name == "t"), "").encode()
    elif signature.scheme == "slack":
        timestamp = lowered.get(SLACK_TIMESTAMP_HEADER.lower(), "").strip().encode()
    elif signature.scheme == "generic" and signature.timestamp_header:
        timestamp = lowered.get(signature.timestamp_header.lower(), "").strip().encode()
    return hashlib.sha256(timestamp + b"\n" + body).hexdigest()


def _verify_stripe(
    settings: SignatureSettings,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    keys: list[bytes],
) -> None:
    value = _header(headers, STRIPE_HEADER)
    timestamp: str | None = None
    candidates: list[str] = []
    for item in value.split(","):
        name, sep, text = item.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            timestamp = text
        elif name == "v1":
            candidates.append(text)
    if timestamp is None:
        raise WebhookError(401, f"header {STRIPE_HEADER} has no timestamp (t=)")
    if not candidates:
        raise WebhookError(401, f"header {STRIPE_HEADER} has no v1 signature")
    message = timestamp.encode() + b"." + body
    _match(keys, message, "sha256", candidates, "hex")
    _check_timestamp(timestamp, now, settings.tolerance_seconds)


def _verify_github(headers: Mapping[str, str], body: bytes, keys: list[bytes]) -> None:
    value = _header(headers, GITHUB_HEADER)
    scheme, sep, given = value.strip().partition("=")
    if not sep or scheme != "sha256":
        raise WebhookError(401, f"header {GITHUB_HEADER} is not of the form sha256=<hex>")
    _match(keys, body, "sha256", [given], "hex")


def _verify_slack(
    settings: SignatureSettings,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    keys: list[bytes],
) -> None:
    timestamp = _header(headers, SLACK_TIMESTAMP_HEADER).strip()
    value = _header(headers, SLACK_SIGNATURE_HEADER)
    version, sep, given = value.strip().partition("=")
    if not sep or version != "v0":
        raise WebhookError(401, f"header {SLACK_SIGNATURE_HEADER} is not of the form v0=<hex>")
    message = b"v0:" + timestamp.encode() + b":" + body
    _match(keys, message, "sha256", [given], "hex")
    _check_timestamp(timestamp, now, settings.tolerance_seconds)


def _verify_generic(
    settings: SignatureSettings,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    keys: list[bytes],
) -> None:
    value = _header(headers, settings.header).strip()
    if settings.prefix:
        if not value.startswith(settings.prefix):
            raise WebhookError(
                401, f"header {settings.header} does not start with '{settings.prefix}'"
            )
        value = value[len(settings.prefix) :]
    message = body
    timestamp: str | None = None
    if settings.timestamp_header:
        timestamp = _header(headers, settings.timestamp_header).strip()
        message = timestamp.encode() + b"." + body
    _match(keys, message, settings.algorithm, [value], settings.encoding)
    if timestamp is not None:
        _check_timestamp(timestamp, now, settings.tolerance_seconds)


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower())
    if value is None or not value.strip():
        raise WebhookError(401, f"missing signature header {name}")
    return value


def _match(
    keys: list[bytes], message: bytes, algorithm: str, candidates: list[str], encoding: str
) -> None:
    """Accept when any candidate equals the HMAC of ``message`` under any key."""
    given = [c.strip().encode() for c in candidates]
    if encoding == "hex":
        given = [g.lower() for g in given]
    matched = False
    for key in keys:
        digest = hmac.new(key, message, algorithm).digest()
        expected = digest.hex().encode() if encoding == "hex" else base64.b64encode(digest)
        for candidate in given:
            # No early exit: the time taken does not depend on which secret matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookError(401, "signature does not match the body")


def _check_timestamp(timestamp: str, now: float, tolerance: float) -> None:
    try:
        sent = int(timestamp)  # an int: "nan" or "inf" must not slip through the comparison
    except ValueError:
        raise WebhookError(401, "signature timestamp is not a Unix time") from None
    if abs(now - sent) > tolerance:
        raise WebhookError(401, f"timestamp outside the {tolerance:g} s window")
