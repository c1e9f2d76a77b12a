"""Fuzzing the webhook body parsers: any bytes, any content type, only a WebhookError comes out.

A body that cannot be read as its type must be a 4xx naming why (``WebhookError``), never
another exception (which the API would answer with a 500). Bodies are random bytes, and random
bytes shaped like each format (JSON values, NDJSON lines, forms, multipart parts), under the
content types the parser dispatches on, with and without charsets.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.errors import WebhookError
from keel.triggers.payloads import check_content_length, parse_form, parse_payload

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples every run: a suite that fails at random helps no one
    suppress_health_check=[HealthCheck.too_slow],
)

MEDIA_TYPES = [
    "application/json", "application/vnd.api+json", "application/x-ndjson", "application/jsonl",
    "application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "text/csv",
    "application/octet-stream", "APPLICATION/JSON", "", " ", ";", "json",
]  # fmt: skip
# Charsets a sender may name, including codecs that raise a bare UnicodeError (idna, punycode,
# undefined), bytes-to-bytes codecs, and names no codec lookup accepts (a NUL byte, non-ASCII).
CHARSETS = ["utf-8", "UTF-8", "utf8", "latin-1", "ascii", "utf-16", "utf-32", "cp1252", "koi8-r",
            "shift_jis", "utf-7", "nope", "rot13", "base64", "zlib", '"utf-8"', "", "idna",
            "punycode", "undefined", "utf-8\x00", "\x00", "utf\u00e9", "unicode_escape",
            "x" * 100]  # fmt: skip

content_types = st.one_of(
    st.none(),
    st.sampled_from(MEDIA_TYPES),
    st.builds(
        lambda media, charset, boundary: f"{media}; charset={charset}; boundary={boundary}",
        st.sampled_from(MEDIA_TYPES),
        st.sampled_from(CHARSETS),
        st.sampled_from(["b", "", "x y", '"q"']),
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


def _multipart(parts: list[tuple[str, bytes, bool]]) -> bytes:
    body = b""
    for name, data, is_file in parts:
        filename = b'; filename="f.bin"' if is_file else b""
        body += b'--b\r\nContent-Disposition: form-data; name="' + name.encode() + b'"'
        body += filename + b"\r\n\r\n" + data + b"\r\n"
    return body + b"--b--\r\n"


bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(json_values.map(json.dumps) | st.text(max_size=10), max_size=5).map(
        lambda lines: "\n".join(lines).encode()
    ),
    st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=5).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()
    ),
    st.lists(
        st.tuples(st.text(alphabet="abc", max_size=3), st.binary(max_size=20), st.booleans()),
        max_size=3,
    ).map(_multipart),
    st.sampled_from([b"[" * 5000, b'{"a":' * 5000, b"NaN", b"[Infinity]", b"\xef\xbb\xbf{}"]),
    # Numbers JSON's syntax allows that overflow a float, alone and among others.
    st.sampled_from([b"1e999999", b"-1e400", b'{"a": [1, 2.5e308]}', b"1\n1e999\n"]),
    # Forms and NDJSON past their count bounds.
    st.sampled_from([b"a=1&" * 2000, b"&" * 5000, b"1\n" * 200, b"\n" * 5000 + b"1"]),
)


@FUZZ
@given(bodies, content_types)
def test_any_body_under_any_content_type_is_payloads_or_a_webhook_error(
    body: bytes, content_type: str | None
) -> None:
    try:
        payloads: list[Any] = parse_payload(body, content_type)
    except WebhookError as exc:
        assert 400 <= exc.status < 500
        return
    assert isinstance(payloads, list)
    assert payloads


@FUZZ
@given(st.binary(max_size=200) | st.sampled_from([b"a&" * 2000, b"k=v&" * 999 + b"k=v"]))
def test_any_query_string_is_a_form_or_a_webhook_error(data: bytes) -> None:
    try:
        assert isinstance(parse_form(data), dict)
    except WebhookError as exc:
        assert exc.status in (400, 413)


# Header values arrive decoded as latin-1, superscript digits (U+00B2, U+00B3, U+00B9) included:
# str.isdigit() accepts them and int() does not. Digit strings longer than int() reads too.
HEADER_TEXT = st.one_of(
    st.text(alphabet=st.characters(codec="latin-1"), max_size=30),
    st.text(alphabet="0123456789\u00b2\u00b3\u00b9 ", max_size=30),
    st.integers(min_value=4000, max_value=6000).map(lambda n: "9" * n),
)


@FUZZ
@given(st.one_of(st.none(), HEADER_TEXT), st.integers(min_value=0, max_value=10**9))
def test_any_content_length_is_accepted_or_a_webhook_error(value: str | None, limit: int) -> None:
    try:
        check_content_length(value, limit)
    except WebhookError as exc:
        assert exc.status in (400, 413)
