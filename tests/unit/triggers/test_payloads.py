from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from keel.errors import WebhookError
from keel.triggers.payloads import check_content_length, parse_form, parse_payload, read_body


def _bad(body: bytes, content_type: str | None) -> str:
    with pytest.raises(WebhookError) as info:
        parse_payload(body, content_type)
    assert info.value.status == 400
    return info.value.message


# --- size limit -------------------------------------------------------------------------------


class _Stream:
    """Yields chunks and counts how many the reader pulled."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.pulled += 1
            yield chunk


async def test_read_body_within_limit() -> None:
    assert await read_body(_Stream([b"ab", b"cd", b""]), 4) == b"abcd"


async def test_read_body_refuses_as_soon_as_the_limit_is_passed() -> None:
    stream = _Stream([b"x" * 4, b"x" * 4, b"x" * 4, b"x" * 4])
    with pytest.raises(WebhookError) as info:
        await read_body(stream, 6)
    assert info.value.status == 413
    assert info.value.message == "body is larger than the limit of 6 bytes"
    assert stream.pulled == 2  # stopped streaming at the chunk that passed the limit


async def test_read_body_exactly_at_limit() -> None:
    assert await read_body(_Stream([b"12345", b"6"]), 6) == b"123456"


def test_content_length_shortcut() -> None:
    check_content_length(None, 10)
    check_content_length("10", 10)
    with pytest.raises(WebhookError) as too_big:
        check_content_length("11", 10)
    assert too_big.value.status == 413
    with pytest.raises(WebhookError) as bad:
        check_content_length("-1", 10)
    assert bad.value.status == 400


# --- JSON -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON; charset=utf-8",
        "application/vnd.github+json",
        "application/cloudevents+json",
    ],
)
def test_json(content_type: str) -> None:
    assert parse_payload(b'{"a": [1, 2]}', content_type) == [{"a": [1, 2]}]


def test_json_scalars_lists_and_bom() -> None:
    assert parse_payload(b"[1,2]", "application/json") == [[1, 2]]
    assert parse_payload(b'"hi"', "application/json") == ["hi"]
    assert parse_payload(b'\xef\xbb\xbf{"a":1}', "application/json") == [{"a": 1}]


def test_malformed_json_says_where() -> None:
    message = _bad(b'{"a": 1,\n "b": }', "application/json")
    assert message == "body is not valid JSON: Expecting value at line 2 column 7"


def test_json_nan_is_refused() -> None:
    assert (
        _bad(b'{"a": NaN}', "application/json") == "body is not valid JSON: NaN is not a JSON value"
    )


def test_json_nested_too_deeply() -> None:
    assert "nested too deeply" in _bad(b"[" * 100_000 + b"]" * 100_000, "application/json")


def test_json_invalid_utf8() -> None:
    message = _bad(b'{"a": "\xff"}', "application/json")
    assert message == "body is not valid UTF-8 text: invalid start byte at byte 7"


# --- NDJSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/x-ndjson", "application/jsonl", "application/json-lines"]
)
def test_ndjson_one_payload_per_line(content_type: str) -> None:
    body = b'{"n": 1}\r\n\n{"n": 2}\n  \n[3]\n'
    assert parse_payload(body, content_type) == [{"n": 1}, {"n": 2}, [3]]


def test_ndjson_bad_line_is_named() -> None:
    body = b'{"n": 1}\n\n{"n": 2,}\n{"n": 3}\n'
    message = _bad(body, "application/x-ndjson")
    assert message.startswith("line 3 is not valid JSON: ")
    assert message.endswith("at column 9")


def test_ndjson_nan_line() -> None:
    assert _bad(b"1\nInfinity\n", "application/x-ndjson") == (
        "line 2 is not valid JSON: Infinity is not a JSON value"
    )


# --- forms ------------------------------------------------------------------------------------


def test_urlencoded_form_repeated_keys_become_lists() -> None:
    body = b"name=Ada+Lovelace&tag=a&tag=b&tag=c&empty=&city=Z%C3%BCrich"
    assert parse_payload(body, "application/x-www-form-urlencoded; charset=utf-8") == [
        {"name": "Ada Lovelace", "tag": ["a", "b", "c"], "empty": "", "city": "Zürich"}
    ]


def test_urlencoded_form_invalid_utf8() -> None:
    assert "not valid UTF-8" in _bad(b"a=%FF", "application/x-www-form-urlencoded")
    assert "not valid UTF-8" in _bad(b"a=\xff", "application/x-www-form-urlencoded")


def test_parse_form_for_query_strings() -> None:
    assert parse_form(b"a=1&a=2&b=x") == {"a": ["1", "2"], "b": "x"}


def test_multipart_form() -> None:
    boundary = "XyZ123"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="title"\r\n\r\n'
            "Hello wörld\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="tag"\r\n\r\n'
            "a\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="tag"\r\n\r\n'
            "b\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="r.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"\x00\x01\xff\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    [payload] = parse_payload(body, f'multipart/form-data; boundary="{boundary}"')
    assert payload == {
        "title": "Hello wörld",
        "tag": ["a", "b"],
        "file": {
            "filename": "r.bin",
            "content_type": "application/octet-stream",
            "size": 3,
            "content_base64": "AAH/",
        },
    }


def test_multipart_without_boundary_or_broken() -> None:
    assert "no boundary" in _bad(b"--x\r\n", "multipart/form-data")
    assert _bad(b"garbage", "multipart/form-data; boundary=x") == (
        "body is not valid multipart/form-data"
    )


# --- text and unknown -------------------------------------------------------------------------


def test_text_and_unknown_types_give_the_text() -> None:
    assert parse_payload(b"hello\nworld", "text/plain") == ["hello\nworld"]
    assert parse_payload(b"<a>1</a>", "application/xml") == ["<a>1</a>"]
    assert parse_payload(b"caf\xe9", "text/plain; charset=latin-1") == ["café"]


def test_text_invalid_utf8_and_unknown_charset() -> None:
    assert "not valid UTF-8 text" in _bad(b"\xff\xfe\x00", "text/plain")
    assert "not valid UTF-8 text" in _bad(b"\x89PNG\r\n", "application/octet-stream")
    assert _bad(b"x", "text/plain; charset=klingon") == "unknown charset 'klingon'"


def test_no_content_type_sniffs_json_else_text() -> None:
    assert parse_payload(b'{"a": 1}', None) == [{"a": 1}]
    assert parse_payload(b"plain words", None) == ["plain words"]
    assert parse_payload(b"NaN", "") == ["NaN"]


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/x-ndjson", "text/plain"]
)
def test_empty_body_is_one_empty_object(content_type: str | None) -> None:
    assert parse_payload(b"", content_type) == [{}]
    assert parse_payload(b" \r\n", content_type) == [{}]
