"""The redactor: secret values, their encodings and their cut-off starts never get through."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.actions.redaction import (
    CURRENT_REDACTOR,
    MARKER,
    Redactor,
    install_log_redaction,
    redact,
)

SECRET = "s3cr3t/Value+with=odd&chars\"'"


@pytest.mark.parametrize(
    "text",
    [
        f"token {SECRET} refused",
        f"GET /x?{urlencode({'key': SECRET})}",
        f"path /{quote(SECRET, safe='')}/x",
        f"form {quote_plus(SECRET)}",
        json.dumps({"echo": SECRET}),
        "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode(),
        "Basic " + base64.b64encode(f"us:{SECRET}".encode()).decode(),
        "Basic " + base64.b64encode(f"u:{SECRET}".encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
    ],
)
def test_a_secret_is_hidden_in_every_common_encoding(text: str) -> None:
    redacted = Redactor([SECRET]).text(text)
    assert MARKER in redacted
    for needle in ("s3cr3t", "czNjcjN0", "s3cr3t%2F"):
        assert needle not in redacted


def test_a_cut_off_start_is_hidden_at_the_end_and_before_an_ellipsis() -> None:
    redactor = Redactor([SECRET])
    assert redactor.text(f"body: {SECRET[:10]}") == f"body: {MARKER}"
    assert redactor.text(f"body: {SECRET[:10]}... more") == f"body: {MARKER}... more"
    # Results are never cut, so a value that merely starts like a secret stays.
    assert Redactor([SECRET]).value({"a": SECRET[:10]}) == {"a": SECRET[:10]}


def test_values_are_redacted_in_keys_and_nested_items() -> None:
    redacted = Redactor([SECRET]).value({SECRET: [1, f"x{SECRET}x", {"k": (SECRET,)}]})
    assert redacted == {MARKER: [1, f"x{MARKER}x", {"k": [MARKER]}]}


def test_short_values_and_an_empty_redactor_change_nothing() -> None:
    redactor = Redactor(["abc", ""])
    assert not redactor
    assert redactor.text("abc abc") == "abc abc"
    assert redactor.value({"abc": 1}) == {"abc": 1}


def test_the_longest_value_wins_when_one_contains_another() -> None:
    redactor = Redactor(["token", "token-extended"])
    assert redactor.text("a token-extended b") == f"a {MARKER} b"


def test_log_records_written_during_a_call_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    log = logging.getLogger("keel.test.redaction")
    token = CURRENT_REDACTOR.set(Redactor([SECRET]))
    try:
        with caplog.at_level(logging.INFO, logger="keel.test.redaction"):
            log.info("calling with %s", SECRET)
            try:
                raise ValueError(f"server said {SECRET}")
            except ValueError:
                log.exception("failed")
        assert redact(SECRET) == MARKER
    finally:
        CURRENT_REDACTOR.reset(token)
    log.info("outside a call: %s", "plain")
    assert SECRET not in caplog.text and "s3cr3t" not in caplog.text
    assert "calling with [REDACTED]" in caplog.text
    assert f"ValueError: server said {MARKER}" in caplog.text
    assert redact(SECRET) == SECRET  # no call running: nothing to hide


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(min_size=8, max_size=40).filter(lambda s: s.strip() == s and s.strip()),
    before=st.binary(max_size=5),
    after=st.binary(max_size=5),
)
def test_base64_of_any_text_around_a_secret_does_not_show_it(
    secret: str, before: bytes, after: bytes
) -> None:
    # Whatever comes before the secret (which sets its alignment in the base64), its encoded
    # form is gone; decoding what is left cannot give the secret back.
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(before + secret.encode() + after).decode()
        redacted = Redactor([secret]).text(f"x {encoded} y")
        assert MARKER in redacted
        remains = redacted.split(MARKER)
        for part in remains:
            chunk = part.strip("x y")
            for start in range(4):
                try:
                    decoded = base64.b64decode(chunk[start:] + "===", altchars=b"-_")
                except ValueError:
                    continue
                assert secret.encode() not in decoded
