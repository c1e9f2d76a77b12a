"""The part count of a multipart webhook body is bounded before the (slow) parser sees it."""

from __future__ import annotations

import pytest

from keel.errors import WebhookError
from keel.triggers.payloads import MAX_MULTIPART_PARTS, parse_payload

TYPE = "multipart/form-data; boundary=b"


def parts(count: int) -> bytes:
    fields = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % n for n in range(count)
    )
    return fields + b"--b--\r\n"


def test_a_body_at_the_part_limit_is_parsed() -> None:
    (form,) = parse_payload(parts(MAX_MULTIPART_PARTS), TYPE)
    assert len(form) == MAX_MULTIPART_PARTS and form["f0"] == "v"


def test_a_body_over_the_part_limit_is_a_413_naming_the_count_and_limit() -> None:
    with pytest.raises(WebhookError) as raised:
        parse_payload(parts(18_000), TYPE)
    assert raised.value.status == 413
    assert str(raised.value) == (
        f"multipart body has 18000 parts, more than the limit of {MAX_MULTIPART_PARTS}"
    )


def test_the_boundary_inside_a_value_is_not_a_part() -> None:
    value = b"x--b" * 5000  # the boundary text, but never at the start of a line
    body = b'--b\r\nContent-Disposition: form-data; name="v"\r\n\r\n' + value + b"\r\n--b--\r\n"
    assert parse_payload(body, TYPE) == [{"v": value.decode()}]
