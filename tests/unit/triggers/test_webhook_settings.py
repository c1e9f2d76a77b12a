from __future__ import annotations

from ipaddress import ip_network

import pytest

from keel.errors import TriggerError
from keel.triggers.webhook_settings import (
    DEFAULT_MAX_BODY_BYTES,
    WebhookSettings,
    load_webhook_settings,
)


def test_defaults() -> None:
    settings, warnings = load_webhook_settings(None)
    assert warnings == []
    assert settings.methods == ("POST",)
    assert settings.allowlist == ()
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert settings.signature is None
    assert settings.idempotency is None
    assert settings.wait_timeout_seconds == 30


def test_full_settings() -> None:
    settings, warnings = load_webhook_settings(
        {
            "methods": ["get", "POST", "post"],
            "allowlist": ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"],
            "max_body_bytes": 2048,
            "signature": {
                "scheme": "Generic",
                "secrets": ["${{ SECRETS.hook.key }}", "old"],
                "header": "X-Sig",
                "algorithm": "SHA512",
                "prefix": "sha512=",
                "encoding": "base64",
                "timestamp_header": "X-Ts",
                "tolerance_seconds": 60,
            },
            "idempotency": {"header": "Idempotency-Key", "required": True},
            "wait_timeout_seconds": 5,
        }
    )
    assert warnings == []
    assert settings.methods == ("GET", "POST")
    assert settings.allowlist == (
        ip_network("10.0.0.0/8"),
        ip_network("192.0.2.7/32"),
        ip_network("2001:db8::/32"),
    )
    sig = settings.signature
    assert sig is not None
    assert sig.scheme == "generic"
    assert sig.secrets == ("${{ SECRETS.hook.key }}", "old")  # references stay as written
    assert (sig.header, sig.algorithm, sig.prefix, sig.encoding) == (
        "X-Sig",
        "sha512",
        "sha512=",
        "base64",
    )
    assert sig.timestamp_header == "X-Ts"
    assert sig.tolerance_seconds == 60
    assert settings.idempotency is not None
    assert settings.idempotency.header == "Idempotency-Key"
    assert settings.idempotency.required


def test_unknown_args_are_warnings_not_errors() -> None:
    settings, warnings = load_webhook_settings(
        {
            "methods": ["POST"],
            "status": "online",
            "entrypoint_ref": "x",
            "signature": {"scheme": "github", "secret": "s", "colour": "red"},
        },
        ref="hook",
    )
    assert settings.signature is not None
    assert settings.signature.secrets == ("s",)  # `secret` is accepted for one secret
    assert warnings == [
        "args.status: unknown argument, ignored",
        "args.entrypoint_ref: unknown argument, ignored",
        "args.signature.colour: unknown argument, ignored",
    ]


def test_tracecat_allowlisted_cidrs_alias_and_single_string() -> None:
    settings, warnings = load_webhook_settings({"allowlisted_cidrs": "198.51.100.0/24"})
    assert warnings == []
    assert settings.allowlist == (ip_network("198.51.100.0/24"),)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"methods": ["PUT"]}, "args.methods.0: Input should be 'GET' or 'POST'"),
        ({"methods": []}, "args.methods: Tuple should have at least 1 item"),
        ({"allowlist": ["10.0.0.300"]}, "args.allowlist: '10.0.0.300' is not an IP address"),
        ({"max_body_bytes": 0}, "args.max_body_bytes: Input should be greater than 0"),
        ({"signature": {"scheme": "paypal", "secrets": ["s"]}}, "args.signature.scheme:"),
        ({"signature": {"scheme": "github"}}, "args.signature.secrets: Field required"),
        ({"signature": {"scheme": "github", "secrets": []}}, "args.signature.secrets:"),
        (
            {"signature": {"scheme": "slack", "secrets": ["s"], "tolerance_seconds": 0}},
            "args.signature.tolerance_seconds: Input should be greater than 0",
        ),
        (
            {"idempotency": {"header": "A", "expression": "${{ TRIGGER.id }}"}},
            "args.idempotency: give either 'header' or 'expression', not both or neither",
        ),
        ({"idempotency": {}}, "args.idempotency: give either 'header' or 'expression'"),
        ({"idempotency": {"expression": "TRIGGER.("}}, "args.idempotency:"),
    ],
)
def test_invalid_args_raise_trigger_error_naming_the_argument(
    args: dict[str, object], expected: str
) -> None:
    with pytest.raises(TriggerError) as info:
        load_webhook_settings(args, ref="hook")
    assert info.value.ref == "hook"
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert "trigger 'hook'" in str(info.value)


def test_idempotency_shorthand_strings() -> None:
    header, _ = load_webhook_settings({"idempotency": "X-GitHub-Delivery"})
    assert header.idempotency is not None
    assert header.idempotency.header == "X-GitHub-Delivery"
    assert header.idempotency.template is None
    expr, _ = load_webhook_settings({"idempotency": "${{ TRIGGER.id }}"})
    assert expr.idempotency is not None
    assert expr.idempotency.template == "${{ TRIGGER.id }}"
    bare, _ = load_webhook_settings({"idempotency": {"expression": "TRIGGER.event.id"}})
    assert bare.idempotency is not None
    assert bare.idempotency.template == "${{ TRIGGER.event.id }}"


def test_settings_round_trip_through_json() -> None:
    settings, _ = load_webhook_settings(
        {
            "allowlist": ["10.0.0.0/8", "::1"],
            "signature": {"scheme": "stripe", "secrets": ["a", "b"]},
            "idempotency": "Idempotency-Key",
        }
    )
    stored = settings.model_dump(mode="json")
    assert stored["allowlist"] == ["10.0.0.0/8", "::1/128"]
    assert WebhookSettings.model_validate(stored) == settings
