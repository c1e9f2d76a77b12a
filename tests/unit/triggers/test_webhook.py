from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import pytest

from keel.dsl.model import ExpectedField
from keel.errors import WebhookError
from keel.triggers.webhook import (
    WebhookRequest,
    WebhookRun,
    WebhookSettings,
    check_client,
    check_method,
    check_payload,
    check_secret,
    idempotency_key,
    idempotency_keys,
    receive,
    run_id_for,
    secret_digest,
)

NOW = 1_700_000_000.0


def _settings(**args: Any) -> WebhookSettings:
    return WebhookSettings.model_validate(args)


def _status(error: pytest.ExceptionInfo[WebhookError]) -> int:
    return error.value.status


# --- secret, method, client -------------------------------------------------------------------


def test_check_secret_compares_with_the_stored_digest() -> None:
    digest = secret_digest("s3cret")
    assert digest == hashlib.sha256(b"s3cret").hexdigest()
    assert check_secret("s3cret", digest)
    assert not check_secret("s3cret", "s3cret")  # the stored value is a digest, not the secret
    assert not check_secret(digest, digest)  # nor does knowing the digest open the URL
    assert not check_secret("s3cre", digest)
    assert not check_secret("", digest)
    assert not check_secret("ünï", digest)  # non-ASCII must not raise
    assert not check_secret("", "")  # a webhook without a secret accepts nothing


def test_check_method() -> None:
    check_method("post", _settings())
    with pytest.raises(WebhookError) as info:
        check_method("GET", _settings())
    assert _status(info) == 405
    assert info.value.message == "method GET is not allowed; this webhook accepts POST"
    check_method("GET", _settings(methods=["GET", "POST"]))
    with pytest.raises(WebhookError):
        check_method("PUT", _settings(methods=["GET", "POST"]))


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("10.1.2.3", True),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
        ("11.0.0.1", False),
        ("2001:db8::42", True),
        ("2001:db9::1", False),
        ("::ffff:10.9.9.9", True),  # IPv4-mapped IPv6 matches v4 entries
        ("::ffff:11.0.0.1", False),
    ],
)
def test_check_client_allowlist(ip: str, allowed: bool) -> None:
    settings = _settings(allowlist=["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
    if allowed:
        check_client(ip, settings)
        return
    with pytest.raises(WebhookError) as info:
        check_client(ip, settings)
    assert _status(info) == 403
    assert ip in info.value.message


def test_check_client_empty_allowlist_allows_all_and_unknown_client() -> None:
    check_client(None, _settings())
    check_client("203.0.113.1", _settings())
    with pytest.raises(WebhookError) as unknown:
        check_client(None, _settings(allowlist=["10.0.0.0/8"]))
    assert _status(unknown) == 403
    with pytest.raises(WebhookError) as garbage:
        check_client("not-an-ip", _settings(allowlist=["10.0.0.0/8"]))
    assert "not-an-ip" in garbage.value.message


# --- expects ----------------------------------------------------------------------------------

EXPECTS = {
    "name": ExpectedField(type="str"),
    "count": ExpectedField(type="int", default=1),
}


def test_check_payload_applies_defaults() -> None:
    assert check_payload(EXPECTS, {"name": "a"}) == {"name": "a", "count": 1}
    assert check_payload({}, "raw text") == "raw text"


def test_check_payload_422_names_each_field() -> None:
    with pytest.raises(WebhookError) as info:
        check_payload(EXPECTS, {"count": "x"})
    assert _status(info) == 422
    assert info.value.message == "the payload does not match the workflow's expects"
    assert len(info.value.problems) == 2
    assert any("'name'" in p for p in info.value.problems)
    assert any("'count'" in p for p in info.value.problems)
    with pytest.raises(WebhookError) as item:
        check_payload(EXPECTS, {}, item=3)
    assert item.value.message.startswith("item 3 of the body")


# --- idempotency ------------------------------------------------------------------------------


def test_idempotency_by_header_case_insensitive() -> None:
    settings = _settings(idempotency={"header": "X-GitHub-Delivery"})
    assert idempotency_key(settings, {"x-github-delivery": " abc-1 "}, {}) == "abc-1"
    assert idempotency_key(settings, {}, {}) is None
    assert idempotency_key(settings, {"X-GitHub-Delivery": "  "}, {}) is None
    assert idempotency_key(_settings(), {"X-GitHub-Delivery": "abc"}, {}) is None


def test_idempotency_required() -> None:
    settings = _settings(idempotency={"header": "Idempotency-Key", "required": True})
    with pytest.raises(WebhookError) as info:
        idempotency_key(settings, {}, {})
    assert _status(info) == 400
    assert "Idempotency-Key" in info.value.message


def test_idempotency_by_expression() -> None:
    settings = _settings(idempotency={"expression": "${{ TRIGGER.event.id }}"})
    assert idempotency_key(settings, {}, {"event": {"id": "evt_1"}}) == "evt_1"
    assert idempotency_key(settings, {}, {"event": {"id": 42}}) == "42"
    assert idempotency_key(settings, {}, {"event": {}}) is None
    bare = _settings(idempotency={"expression": "TRIGGER.event"})
    assert idempotency_key(bare, {}, {"event": {"b": 1, "a": [2]}}) == '{"a":[2],"b":1}'
    templated = _settings(idempotency="${{ TRIGGER.source }}-${{ TRIGGER.id }}")
    assert idempotency_key(templated, {}, {"source": "crm", "id": 7}) == "crm-7"


def test_idempotency_expression_failure_is_400() -> None:
    settings = _settings(idempotency={"expression": "${{ TRIGGER.n + 'x' }}"})
    with pytest.raises(WebhookError) as info:
        idempotency_key(settings, {}, {"n": 1})
    assert _status(info) == 400
    assert info.value.message.startswith("the idempotency key expression failed")


def test_idempotency_keys_for_several_payloads() -> None:
    header = _settings(idempotency="Idempotency-Key")
    headers = {"Idempotency-Key": "k"}
    assert idempotency_keys(header, headers, [{}]) == ["k"]
    assert idempotency_keys(header, headers, [{}, {}]) == ["k#1", "k#2"]
    assert idempotency_keys(header, {}, [{}, {}]) == [None, None]
    expr = _settings(idempotency="${{ TRIGGER.id }}")
    assert idempotency_keys(expr, {}, [{"id": "a"}, {"id": "b"}]) == ["a", "b"]


def test_run_id_is_deterministic_and_bounded() -> None:
    first = run_id_for("wf_orders", "evt_1")
    assert first == run_id_for("wf_orders", "evt_1")
    assert first.startswith("wh-wf_orders-")
    assert len(first.rsplit("-", 1)[1]) == 32
    assert first != run_id_for("wf_orders", "evt_2")
    assert first != run_id_for("wf_other", "evt_1")
    long = run_id_for("w" * 5000, "k" * 5000)
    assert len(long) <= 140
    assert long != run_id_for("w" * 4999, "k" * 5000)


# --- the whole pipeline -----------------------------------------------------------------------


async def _stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _request(
    body: bytes = b'{"name": "x"}',
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    client: str | None = "10.0.0.1",
    secret: str = "url-secret",
    query: str = "",
) -> WebhookRequest:
    return WebhookRequest(
        method=method,
        client=client,
        headers={"Content-Type": "application/json", **(headers or {})},
        body=_stream(body),
        secret=secret,
        query=query,
    )


async def _receive(
    request: WebhookRequest, settings: WebhookSettings, **kw: Any
) -> list[WebhookRun]:
    return await receive(
        request,
        settings,
        workflow_id="wf1",
        expected_secret=secret_digest("url-secret"),
        expects=kw.pop("expects", EXPECTS),
        now=NOW,
        **kw,
    )


async def test_receive_happy_path() -> None:
    runs = await _receive(_request(), _settings())
    assert runs == [WebhookRun({"name": "x", "count": 1}, None, None)]


async def test_receive_ndjson_with_header_key() -> None:
    body = b'{"name": "a"}\n{"name": "b", "count": 5}\n'
    headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": "d1"}
    runs = await _receive(_request(body, headers=headers), _settings(idempotency="Idempotency-Key"))
    assert [r.payload for r in runs] == [{"name": "a", "count": 1}, {"name": "b", "count": 5}]
    assert [r.idempotency_key for r in runs] == ["d1#1", "d1#2"]
    assert [r.run_id for r in runs] == [run_id_for("wf1", "d1#1"), run_id_for("wf1", "d1#2")]


async def test_receive_signed_and_keyed_by_expression() -> None:
    body = b'{"name": "a", "id": "evt_9"}'
    sig = "sha256=" + hmac.new(b"gh", body, hashlib.sha256).hexdigest()
    settings = _settings(
        signature={"scheme": "github", "secrets": ["${{ SECRETS.gh.key }}"]},
        idempotency={"expression": "TRIGGER.id"},
    )
    runs = await _receive(
        _request(body, headers={"X-Hub-Signature-256": sig}), settings, signing_secrets=["gh"]
    )
    assert runs[0].idempotency_key == "evt_9"
    assert runs[0].run_id == run_id_for("wf1", "evt_9")


def _github(body: bytes, delivery: str | None) -> dict[str, str]:
    headers = {"X-Hub-Signature-256": "sha256=" + hmac.new(b"gh", body, hashlib.sha256).hexdigest()}
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    return headers


@pytest.mark.parametrize("idempotency", [None, {"header": "X-GitHub-Delivery"}])
async def test_a_replayed_signed_delivery_is_the_same_run(idempotency: Any) -> None:
    # The delivery id is not signed: a replay with a new id, or none, must not be a new run.
    body = b'{"name": "a", "count": 2}'
    settings = _settings(
        signature={"scheme": "github", "secrets": ["${{ SECRETS.gh.key }}"]},
        idempotency=idempotency,
    )
    run_ids = set()
    for delivery in ("d-1", "d-2", None):
        (run,) = await _receive(
            _request(body, headers=_github(body, delivery)), settings, signing_secrets=["gh"]
        )
        assert run.run_id is not None and run.idempotency_key is not None
        run_ids.add(run.run_id)
    assert len(run_ids) == 1
    other = b'{"name": "b", "count": 2}'
    (run,) = await _receive(
        _request(other, headers=_github(other, "d-1")), settings, signing_secrets=["gh"]
    )
    assert run.run_id not in run_ids  # another body is another delivery


async def test_a_signed_stripe_delivery_is_keyed_by_timestamp_and_body() -> None:
    body = b'{"name": "a"}'
    settings = _settings(signature={"scheme": "stripe", "secrets": ["s"]})

    async def run_id(t: int) -> str | None:
        sig = hmac.new(b"s", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {"Stripe-Signature": f"t={t},v1={sig}"}
        (run,) = await _receive(_request(body, headers=headers), settings, signing_secrets=["s"])
        return run.run_id

    first = await run_id(int(NOW))
    assert first is not None and await run_id(int(NOW)) == first  # a replay in the window
    assert await run_id(int(NOW) - 5) != first  # Stripe signs each retry anew: its own key


async def test_receive_get_uses_the_query_string() -> None:
    runs = await _receive(
        _request(b"", method="GET", query="name=q&tag=1&tag=2"),
        _settings(methods=["GET"]),
    )
    assert runs[0].payload == {"name": "q", "tag": ["1", "2"], "count": 1}


@pytest.mark.parametrize(
    ("request_kw", "settings_kw", "status"),
    [
        ({"secret": "wrong"}, {}, 404),
        ({"method": "GET"}, {}, 405),
        ({"client": "8.8.8.8"}, {"allowlist": ["10.0.0.0/8"]}, 403),
        ({"headers": {"Content-Length": "999"}}, {"max_body_bytes": 10}, 413),
        ({"body": b"x" * 11}, {"max_body_bytes": 10}, 413),
        ({}, {"signature": {"scheme": "github", "secrets": ["s"]}}, 401),
        ({"body": b"{oops"}, {}, 400),
        ({"body": b'{"count": 2}'}, {}, 422),
        ({}, {"idempotency": {"header": "Idempotency-Key", "required": True}}, 400),
    ],
)
async def test_receive_refusals(
    request_kw: dict[str, Any], settings_kw: dict[str, Any], status: int
) -> None:
    with pytest.raises(WebhookError) as info:
        await _receive(_request(**request_kw), _settings(**settings_kw), signing_secrets=["s"])
    assert _status(info) == status


async def test_receive_refuses_the_whole_batch_when_one_item_is_bad() -> None:
    body = b'{"name": "a"}\n{"count": 1}\n'
    request = _request(body, headers={"Content-Type": "application/x-ndjson"})
    with pytest.raises(WebhookError) as info:
        await _receive(request, _settings())
    assert _status(info) == 422
    assert info.value.message.startswith("item 2 of the body")
