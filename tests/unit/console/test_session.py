"""The console's CSRF token and same-origin check."""

from __future__ import annotations

from starlette.requests import Request

from keel.console.session import csrf_ok, csrf_token


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"host": "keel.test", **headers}.items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})


def test_token_depends_on_the_key() -> None:
    assert csrf_token("a") != csrf_token("b") and len(csrf_token("a")) == 64
    assert csrf_token("a") == csrf_token("a")


def test_csrf_needs_the_token_and_the_same_origin() -> None:
    token = csrf_token("key")
    assert csrf_ok(request({"origin": "http://keel.test"}), "key", token)
    assert csrf_ok(request({}), "key", token)  # no Origin (an old browser): the token decides
    assert csrf_ok(request({"x-csrf-token": token}), "key", None)
    assert not csrf_ok(request({"origin": "http://keel.test"}), "key", "wrong")
    assert not csrf_ok(request({"origin": "http://keel.test"}), "key", None)
    assert not csrf_ok(request({"origin": "http://evil.example"}), "key", token)
    assert not csrf_ok(request({"origin": "null"}), "key", token)
    assert not csrf_ok(request({"sec-fetch-site": "cross-site"}), "key", token)
