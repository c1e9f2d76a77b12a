from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from keel.errors import WebhookError
from keel.triggers.signatures import verify_signature
from keel.triggers.webhook_settings import SignatureSettings, WebhookSettings

BODY = b'{"event":"paid","amount":42}'
NOW = 1_700_000_000.0
SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"


def _hex(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, getattr(hashlib, algorithm)).hexdigest()


def _settings(scheme: str, **extra: Any) -> WebhookSettings:
    return WebhookSettings.model_validate(
        {"signature": {"scheme": scheme, "secrets": ["${{ SECRETS.a.b }}"], **extra}}
    )


def _refused(
    settings: WebhookSettings, headers: dict[str, str], body: bytes = BODY, **kw: Any
) -> WebhookError:
    with pytest.raises(WebhookError) as info:
        verify_signature(settings, headers, body, kw.get("now", NOW), kw.get("secrets", [SECRET]))
    assert info.value.status == 401
    return info.value


def _stripe(secret: str, t: int, body: bytes = BODY) -> str:
    return f"t={t},v1={_hex(secret, f'{t}.'.encode() + body)}"


def _slack(secret: str, ts: int, body: bytes = BODY) -> dict[str, str]:
    sig = "v0=" + _hex(secret, f"v0:{ts}:".encode() + body)
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}


def test_no_signature_configured_accepts_anything() -> None:
    verify_signature(WebhookSettings(), {}, BODY, NOW, [])


def test_configured_but_no_resolved_secret_fails_closed() -> None:
    with pytest.raises(WebhookError) as info:
        verify_signature(_settings("github"), {}, BODY, NOW, ["", ""])
    assert info.value.status == 500


# --- Stripe -----------------------------------------------------------------------------------


def test_stripe_good() -> None:
    verify_signature(
        _settings("stripe"), {"Stripe-Signature": _stripe(SECRET, int(NOW))}, BODY, NOW, [SECRET]
    )


def test_stripe_accepts_any_of_several_v1_and_lowercase_header_name() -> None:
    t = int(NOW) - 10
    header = f"t={t},v1=deadbeef,v0=ignored,{_stripe(SECRET, t).split(',')[1]}"
    verify_signature(_settings("stripe"), {"stripe-signature": header}, BODY, NOW, [SECRET])


def test_stripe_rotation_second_secret_matches() -> None:
    header = {"Stripe-Signature": _stripe(OLD_SECRET, int(NOW))}
    verify_signature(_settings("stripe"), header, BODY, NOW, [SECRET, OLD_SECRET])


def test_stripe_wrong_secret() -> None:
    error = _refused(_settings("stripe"), {"Stripe-Signature": _stripe("nope", int(NOW))})
    assert error.message == "signature does not match the body"
    assert _hex(SECRET, f"{int(NOW)}.".encode() + BODY) not in str(error)  # no leak


def test_stripe_tampered_body() -> None:
    header = {"Stripe-Signature": _stripe(SECRET, int(NOW))}
    _refused(_settings("stripe"), header, body=BODY.replace(b"42", b"4200"))


def test_stripe_old_timestamp() -> None:
    header = {"Stripe-Signature": _stripe(SECRET, int(NOW) - 301)}
    error = _refused(_settings("stripe"), header)
    assert error.message == "timestamp outside the 300 s window"


def test_stripe_future_timestamp_and_custom_tolerance() -> None:
    header = {"Stripe-Signature": _stripe(SECRET, int(NOW) + 61)}
    error = _refused(_settings("stripe", tolerance_seconds=60), header)
    assert error.message == "timestamp outside the 60 s window"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing signature header Stripe-Signature"),
        ({"Stripe-Signature": "  "}, "missing signature header Stripe-Signature"),
        ({"Stripe-Signature": "v1=abc"}, "header Stripe-Signature has no timestamp (t=)"),
        ({"Stripe-Signature": "t=1700000000"}, "header Stripe-Signature has no v1 signature"),
    ],
)
def test_stripe_bad_headers(headers: dict[str, str], message: str) -> None:
    assert _refused(_settings("stripe"), headers).message == message


def test_stripe_non_numeric_timestamp() -> None:
    # A signature over a "nan" timestamp must not pass the window check.
    header = {"Stripe-Signature": f"t=nan,v1={_hex(SECRET, b'nan.' + BODY)}"}
    assert _refused(_settings("stripe"), header).message == "signature timestamp is not a Unix time"


# --- GitHub -----------------------------------------------------------------------------------


def test_github_good_and_uppercase_hex() -> None:
    sig = "sha256=" + _hex(SECRET, BODY)
    verify_signature(_settings("github"), {"X-Hub-Signature-256": sig}, BODY, NOW, [SECRET])
    upper = "sha256=" + _hex(SECRET, BODY).upper()
    verify_signature(_settings("github"), {"x-hub-signature-256": upper}, BODY, 0.0, [SECRET])


def test_github_has_no_timestamp_window() -> None:
    sig = "sha256=" + _hex(SECRET, BODY)
    verify_signature(_settings("github"), {"X-Hub-Signature-256": sig}, BODY, NOW * 2, [SECRET])


def test_github_rotation() -> None:
    sig = "sha256=" + _hex(OLD_SECRET, BODY)
    headers = {"X-Hub-Signature-256": sig}
    verify_signature(_settings("github"), headers, BODY, NOW, [SECRET, OLD_SECRET])


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({}, BODY, "missing signature header X-Hub-Signature-256"),
        ({"X-Hub-Signature-256": "sha1=abc"}, BODY, "is not of the form sha256=<hex>"),
        ({"X-Hub-Signature-256": "abc"}, BODY, "is not of the form sha256=<hex>"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, BODY, "signature does not match"),
        ({"X-Hub-Signature-256": "sha256=é"}, BODY, "signature does not match"),
    ],
)
def test_github_bad(headers: dict[str, str], body: bytes, message: str) -> None:
    assert message in _refused(_settings("github"), headers, body).message


def test_github_wrong_secret_and_tampered_body() -> None:
    _refused(_settings("github"), {"X-Hub-Signature-256": "sha256=" + _hex("other", BODY)})
    headers = {"X-Hub-Signature-256": "sha256=" + _hex(SECRET, BODY)}
    _refused(_settings("github"), headers, body=BODY + b" ")


# --- Slack ------------------------------------------------------------------------------------


def test_slack_good_and_rotation() -> None:
    verify_signature(_settings("slack"), _slack(SECRET, int(NOW)), BODY, NOW, [SECRET])
    verify_signature(
        _settings("slack"), _slack(OLD_SECRET, int(NOW)), BODY, NOW, [SECRET, OLD_SECRET]
    )


def test_slack_wrong_secret_tampered_old() -> None:
    _refused(_settings("slack"), _slack("other", int(NOW)))
    _refused(_settings("slack"), _slack(SECRET, int(NOW)), body=b"token=x")
    old = _refused(_settings("slack"), _slack(SECRET, int(NOW) - 600))
    assert old.message == "timestamp outside the 300 s window"


def test_slack_timestamp_is_part_of_the_signed_message() -> None:
    headers = _slack(SECRET, int(NOW))
    headers["X-Slack-Request-Timestamp"] = str(int(NOW) - 1)
    assert _refused(_settings("slack"), headers).message == "signature does not match the body"


def test_slack_missing_headers_and_bad_version() -> None:
    headers = _slack(SECRET, int(NOW))
    no_ts = {"X-Slack-Signature": headers["X-Slack-Signature"]}
    assert "X-Slack-Request-Timestamp" in _refused(_settings("slack"), no_ts).message
    no_sig = {"X-Slack-Request-Timestamp": str(int(NOW))}
    assert "X-Slack-Signature" in _refused(_settings("slack"), no_sig).message
    v1 = {**headers, "X-Slack-Signature": headers["X-Slack-Signature"].replace("v0=", "v1=")}
    assert "v0=<hex>" in _refused(_settings("slack"), v1).message


# --- generic ----------------------------------------------------------------------------------


def test_generic_defaults_hex_sha256_in_x_signature() -> None:
    headers = {"X-Signature": _hex(SECRET, BODY)}
    verify_signature(_settings("generic"), headers, BODY, NOW, [SECRET])
    _refused(_settings("generic"), {"X-Signature": _hex("x", BODY)})
    assert "X-Signature" in _refused(_settings("generic"), {}).message


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
def test_generic_algorithms_with_prefix(algorithm: str) -> None:
    settings = _settings("generic", header="X-Sig", algorithm=algorithm, prefix=f"{algorithm}=")
    headers = {"x-sig": f"{algorithm}=" + _hex(SECRET, BODY, algorithm)}
    verify_signature(settings, headers, BODY, NOW, [SECRET])
    other = "sha1" if algorithm != "sha1" else "sha256"
    wrong = {"X-Sig": f"{algorithm}=" + _hex(SECRET, BODY, other)}
    _refused(settings, wrong)


def test_generic_missing_prefix() -> None:
    settings = _settings("generic", prefix="sha256=")
    error = _refused(settings, {"X-Signature": _hex(SECRET, BODY)})
    assert error.message == "header X-Signature does not start with 'sha256='"


def test_generic_base64() -> None:
    settings = _settings("generic", header="X-Shopify-Hmac-Sha256", encoding="base64")
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
    headers = {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode()}
    verify_signature(settings, headers, BODY, NOW, [SECRET])
    _refused(settings, {"X-Shopify-Hmac-Sha256": digest.hex()})


def test_generic_with_timestamp_header() -> None:
    settings = _settings("generic", timestamp_header="X-Timestamp")
    t = int(NOW)
    good = {"X-Timestamp": str(t), "X-Signature": _hex(SECRET, f"{t}.".encode() + BODY)}
    verify_signature(settings, good, BODY, NOW, [OLD_SECRET, SECRET])
    assert "X-Timestamp" in _refused(settings, {"X-Signature": good["X-Signature"]}).message
    stale = {
        "X-Timestamp": str(t - 1000),
        "X-Signature": _hex(SECRET, f"{t - 1000}.".encode() + BODY),
    }
    assert _refused(settings, stale).message == "timestamp outside the 300 s window"


def test_signature_settings_alone_are_accepted() -> None:
    signature = SignatureSettings.model_validate({"scheme": "github", "secrets": ["x"]})
    headers = {"X-Hub-Signature-256": "sha256=" + _hex(SECRET, BODY)}
    verify_signature(signature, headers, BODY, NOW, [SECRET])
