"""Webhook bodies a fuzzer found answered with a 500 or an event-loop stall: each is a clear 4xx.

Header digits that only Unicode calls digits, charsets that are no text encoding (or no name),
JSON numbers that overflow to infinity, forms of too many fields, NDJSON bodies of too many
lines, and a large body parsed off the event loop while a small one stays inline.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from keel.errors import WebhookError
from keel.triggers.bounds import InputBounds
from keel.triggers.payloads import (
    INLINE_PARSE_BYTES,
    MAX_FORM_FIELDS,
    check_content_length,
    parse_form,
    parse_payload,
)
from keel.triggers.webhook import WebhookRequest, WebhookSettings, receive, secret_digest

NDJSON = "application/x-ndjson"


def refusal(body: bytes, content_type: str | None) -> WebhookError:
    with pytest.raises(WebhookError) as raised:
        parse_payload(body, content_type)
    return raised.value


# --- Content-Length ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["\u00b2", "1\u00b3", "\u00b9\u00b9", "\u0663", "\uff11"])
def test_a_content_length_of_non_ascii_digits_is_a_400(value: str) -> None:
    with pytest.raises(WebhookError) as raised:
        check_content_length(value, 1000)
    assert raised.value.status == 400
    assert "is not a number of bytes" in str(raised.value)


def test_a_content_length_too_long_for_int_is_a_413_not_a_crash() -> None:
    with pytest.raises(WebhookError) as raised:
        check_content_length("9" * 5000, 1000)  # int() refuses more than 4,300 digits
    assert raised.value.status == 413
    check_content_length("0" * 5000 + "1000", 1000)  # leading zeros: still 1000, accepted


# --- charsets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["idna", "punycode", "undefined"])
def test_a_charset_raising_a_bare_unicode_error_is_a_400_naming_it(charset: str) -> None:
    error = refusal(b"\xff\xfe plain text", f"text/plain; charset={charset}")
    assert error.status == 400
    assert f"'{charset}'" in str(error)


def test_undefined_refuses_even_ascii_text() -> None:
    error = refusal(b"hello", "text/plain; charset=undefined")
    assert str(error).startswith("body cannot be decoded as charset 'undefined'")


@pytest.mark.parametrize("charset", ["base64", "rot13", "zlib", "hex"])
def test_a_bytes_to_bytes_codec_is_not_a_text_encoding(charset: str) -> None:
    error = refusal(b"aGVsbG8=", f"text/plain; charset={charset}")
    assert (error.status, str(error)) == (400, f"charset '{charset}' is not a text encoding")


@pytest.mark.parametrize("charset", ["utf-8\x00", "\x00", "utf\u00e9", "x" * 41, "a\x7fb"])
def test_a_charset_that_is_no_name_is_a_400_shown_escaped(charset: str) -> None:
    error = refusal(b"{}", f"application/json; charset={charset}")
    assert error.status == 400
    assert str(error).endswith("is not a charset name")
    assert "\x00" not in str(error) and "\x7f" not in str(error)
    assert len(str(error)) < 100


# --- non-finite JSON numbers ------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"1e999999", b"[1, -1e400]", b'{"a": 1.5e309}'])
def test_a_number_that_overflows_a_float_is_a_400_naming_it(body: bytes) -> None:
    error = refusal(body, "application/json")
    assert error.status == 400
    assert "is too large for a float" in str(error)


def test_a_huge_number_is_named_shortened() -> None:
    error = refusal(b"1" * 10_000 + b".0e999", "application/json")
    assert "'1111111111" in str(error) and len(str(error)) < 150


def test_an_overflowing_ndjson_line_is_named() -> None:
    error = refusal(b"1\n2e999\n", NDJSON)
    assert str(error).startswith("line 2 is not valid JSON: the number '2e999'")


def test_finite_floats_are_still_read() -> None:
    assert parse_payload(b"[1.5, -2e300, 0.0]", "application/json") == [[1.5, -2e300, 0.0]]


def test_an_overflowing_number_without_a_content_type_is_text() -> None:
    # Not JSON, so (as for any non-JSON body without a type) the run gets the text.
    assert parse_payload(b"1e999999", None) == ["1e999999"]


# --- form fields ------------------------------------------------------------------------------


def test_a_form_at_the_field_limit_is_read() -> None:
    data = b"&".join(b"k%d=v" % n for n in range(MAX_FORM_FIELDS))
    assert len(parse_form(data)) == MAX_FORM_FIELDS


def test_a_form_over_the_field_limit_is_a_413_naming_the_limit() -> None:
    data = b"a=1&" * 340_000
    error = refusal(data, "application/x-www-form-urlencoded")
    assert error.status == 413
    assert str(error) == (f"form data has 340001 fields, more than the limit of {MAX_FORM_FIELDS}")
    with pytest.raises(WebhookError) as raised:
        parse_form(b"&" * MAX_FORM_FIELDS)  # a query string is bounded the same way
    assert raised.value.status == 413


# --- NDJSON lines -----------------------------------------------------------------------------


def test_ndjson_blank_lines_do_not_count_towards_the_cap() -> None:
    bounds = InputBounds(max_runs_per_request=2)
    body = b"\n" * 100_000 + b"1\n\n  \r\n2\n" + b"\n" * 1000
    assert parse_payload(body, NDJSON, bounds) == [1, 2]


def test_ndjson_over_the_cap_is_counted_exactly_without_splitting() -> None:
    error = refusal(b"1\n" * 500_000, NDJSON)
    assert error.status == 413
    assert str(error).startswith("body has 500000 NDJSON lines, more than the limit of 100")


def test_ndjson_lines_split_on_newline_only() -> None:
    # U+2028 and U+0085 may stand raw inside a JSON string; they separate no NDJSON lines.
    body = '{"a": "x\u2028y"}\n{"b": "\u0085"}\r\n'.encode()
    assert parse_payload(body, NDJSON) == [{"a": "x\u2028y"}, {"b": "\u0085"}]


# --- parsing off the event loop ---------------------------------------------------------------


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    yield body  # never suspends: only the parse can hand the loop back


async def _received_in_one_step(body: bytes) -> bool:
    """Return whether ``receive`` finished without ever handing the event loop back.

    Inline parsing never suspends (the body iterator does not either), so the task is done after
    its first step; a worker-thread parse suspends it, and its result needs another loop turn.
    """
    request = WebhookRequest(
        method="POST",
        client="127.0.0.1",
        headers={"Content-Type": "application/json"},
        body=_chunks(body),
        secret="s",
    )
    task = asyncio.create_task(
        receive(
            request,
            WebhookSettings(),
            workflow_id="w",
            expected_secret=secret_digest("s"),
            now=0.0,
        )
    )
    await asyncio.sleep(0)
    done = task.done()
    (run,) = await task
    assert run.payload == {"pad": body.decode()[9:-2]}
    return done


def _padded(size: int) -> bytes:
    return b'{"pad": "' + b"x" * (size - 11) + b'"}'


async def test_a_small_body_is_parsed_inline() -> None:
    assert await _received_in_one_step(_padded(INLINE_PARSE_BYTES))


async def test_a_large_body_is_parsed_in_a_worker_thread() -> None:
    assert not await _received_in_one_step(_padded(INLINE_PARSE_BYTES + 1))


def test_ndjson_over_the_cap_is_refused_without_building_a_list_of_lines() -> None:
    body = b"1\n" * 500_000  # ~1 MiB; split into a list, its lines took ~50 MB at the peak
    tracemalloc.start()
    try:
        refusal(body, NDJSON)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(body)  # the decoded text (1 MiB) and little else
