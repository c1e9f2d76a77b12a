"""The settings of a webhook trigger, read from its ``args`` (or from settings the API stored).

Example ``args``::

    methods: [POST]
    allowlist: [203.0.113.0/24, "2001:db8::/32"]
    max_body_bytes: 262144
    signature:
      scheme: github                       # stripe | github | slack | generic
      secrets: ["${{ SECRETS.github.webhook_secret }}", "${{ SECRETS.github.previous }}"]
    idempotency:
      expression: ${{ TRIGGER.hook_id }}   # or: header: Idempotency-Key (unsigned webhooks)

A signed webhook without an ``expression`` key is keyed by the digest of what its signature
covers, so a replayed delivery is the same run (:mod:`keel.triggers.idempotency`).

Secrets stay as written (``${{ SECRETS... }}`` references included); the API resolves them and
passes the values to :func:`keel.triggers.signatures.verify_signature`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from keel.expressions import check as check_expression
from keel.triggers.args import load_args

#: The default maximum body size: 1 MiB.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

SignatureScheme = Literal["stripe", "github", "slack", "generic"]
Method = Literal["GET", "POST"]
Network = IPv4Network | IPv6Network


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _methods(value: Any) -> Any:
    value = _as_list(value)
    if isinstance(value, list | tuple):
        return tuple(dict.fromkeys(m.strip().upper() if isinstance(m, str) else m for m in value))
    return value


def _networks(value: Any) -> Any:
    value = _as_list(value)
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        return value
    networks: list[Any] = []
    for entry in value:
        if isinstance(entry, IPv4Network | IPv6Network):
            networks.append(entry)
            continue
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"'{entry}' is not an IP address or a CIDR network") from None
    return tuple(networks)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SignatureSettings(_Settings):
    """How a webhook's HMAC signature is checked.

    Attributes:
        scheme: ``stripe`` (``Stripe-Signature: t=...,v1=...``), ``github``
            (``X-Hub-Signature-256: sha256=...``), ``slack`` (``X-Slack-Signature: v0=...`` with
            ``X-Slack-Request-Timestamp``) or ``generic`` (the options below).
        secrets: The signing secrets; a signature made with any of them is accepted, so a secret
            can be rotated without downtime. ``secret`` (one string) is accepted too.
        header: (generic) The header carrying the signature.
        algorithm: (generic) The HMAC hash.
        prefix: (generic) Text before the signature in the header, e.g. ``sha256=``.
        encoding: (generic) How the signature is written: ``hex`` or ``base64``.
        timestamp_header: (generic) A header carrying a Unix timestamp; when set, the signed
            message is ``"{timestamp}.{body}"`` and the timestamp must be within the tolerance.
        tolerance_seconds: How far a signed timestamp may be from now (Stripe, Slack, generic).
    """

    scheme: Annotated[SignatureScheme, BeforeValidator(_lower)]
    secrets: Annotated[tuple[str, ...], BeforeValidator(_as_list)] = Field(
        min_length=1, validation_alias=AliasChoices("secrets", "secret")
    )
    header: str = Field(default="X-Signature", min_length=1)
    algorithm: Annotated[Literal["sha256", "sha1", "sha512"], BeforeValidator(_lower)] = "sha256"
    prefix: str = ""
    encoding: Annotated[Literal["hex", "base64"], BeforeValidator(_lower)] = "hex"
    timestamp_header: str | None = None
    tolerance_seconds: float = Field(default=300, gt=0)


class IdempotencySettings(_Settings):
    """Where a webhook delivery's idempotency key comes from (exactly one of the two).

    A plain string in ``args`` is read as a header name, or as an expression if it holds ``${{``.

    Attributes:
        header: A request header, e.g. ``Idempotency-Key`` or ``X-GitHub-Delivery``.
        expression: A Keel expression over the payload, e.g. ``${{ TRIGGER.event.id }}``
            (a bare ``TRIGGER.event.id`` is read as ``${{ TRIGGER.event.id }}``).
        required: Refuse (400) a delivery without a key, instead of starting it without dedup.
    """

    header: str | None = Field(default=None, min_length=1)
    expression: str | None = Field(default=None, min_length=1)
    required: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"expression": value} if "${{" in value else {"header": value}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> IdempotencySettings:
        if (self.header is None) == (self.expression is None):
            raise ValueError("give either 'header' or 'expression', not both or neither")
        if self.expression is not None:
            problems = check_expression(self.template or "")
            if problems:
                raise ValueError("; ".join(problems))
        return self

    @property
    def template(self) -> str | None:
        """Return the expression as a ``${{ }}`` template, or ``None`` for a header key."""
        if self.expression is None:
            return None
        text = self.expression.strip()
        return text if "${{" in text else f"${{{{ {text} }}}}"


class WebhookSettings(_Settings):
    """Settings of a webhook trigger.

    Attributes:
        methods: The HTTP methods accepted (``POST``, ``GET``); others get 405.
        allowlist: Client IPs/CIDRs (v4 or v6) allowed to call; empty allows every client.
            ``allowlisted_cidrs`` (Tracecat's name) is accepted too.
        max_body_bytes: The largest body accepted; a larger one gets 413.
        signature: HMAC verification, if any.
        idempotency: The idempotency key, if any.
        wait_timeout_seconds: How long the ``/wait`` form waits for the run's result.
    """

    methods: Annotated[tuple[Method, ...], BeforeValidator(_methods)] = Field(
        default=("POST",), min_length=1
    )
    allowlist: Annotated[tuple[Network, ...], BeforeValidator(_networks)] = Field(
        default=(), validation_alias=AliasChoices("allowlist", "allowlisted_cidrs")
    )
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, gt=0)
    signature: SignatureSettings | None = None
    idempotency: IdempotencySettings | None = None
    wait_timeout_seconds: float = Field(default=30, gt=0)


def load_webhook_settings(
    args: Mapping[str, Any] | None, ref: str | None = None
) -> tuple[WebhookSettings, list[str]]:
    """Read a webhook trigger's ``args``.

    Args:
        args: The trigger's ``args``.
        ref: The trigger's ref, named in errors.

    Returns:
        The settings, and one warning per unknown argument (which is ignored).

    Raises:
        TriggerError: An argument is invalid; every problem is listed.
    """
    return load_args(WebhookSettings, args, ref)
