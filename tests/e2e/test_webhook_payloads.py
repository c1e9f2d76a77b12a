"""Webhook bodies a fuzzer once turned into 500s, through the API: each is a clear 4xx now.

Every refusal names what is wrong (the header, the charset, the number, the limit) in the
usual JSON error with ``field: body`` where it is about the body, and starts no run. A body over
the inline-parse threshold is parsed in a worker thread and still gives its run the value whole.
"""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import Client

from keel.triggers.payloads import INLINE_PARSE_BYTES, MAX_FORM_FIELDS
from tests.e2e.conftest import commit, path_of
from tests.e2e.test_webhook_bounds import ECHO, started_nothing

pytestmark = pytest.mark.integration

#: (headers, body, status, words the error message must contain)
REFUSED: list[tuple[dict[str, bytes], bytes, int, str]] = [
    ({"Content-Length": b"\xb2"}, b"{}", 400, "is not a number of bytes"),
    ({"Content-Type": b"text/plain; charset=idna"}, b"\xff", 400, "'idna'"),
    ({"Content-Type": b"text/plain; charset=punycode"}, b"a b", 400, "'punycode'"),
    ({"Content-Type": b"text/plain; charset=undefined"}, b"hi", 400, "charset 'undefined'"),
    ({"Content-Type": b"text/plain; charset=base64"}, b"aGk=", 400, "not a text encoding"),
    ({"Content-Type": b"application/json; charset=utf-8\x00"}, b"{}", 400, "not a charset name"),
    ({"Content-Type": b"application/json"}, b"1e999999", 400, "too large for a float"),
    ({"Content-Type": b"application/x-ndjson"}, b"1\n-1e400\n", 400, "line 2 "),
    (
        {"Content-Type": b"application/x-www-form-urlencoded"},
        b"a&" * 340_000,
        413,
        f"more than the limit of {MAX_FORM_FIELDS}",
    ),
    ({"Content-Type": b"application/x-ndjson"}, b"1\n" * 300_000, 413, "300000 NDJSON lines"),
]


async def test_bodies_that_were_500s_are_clear_4xx_and_start_no_run(
    api: httpx.AsyncClient, temporal_client: Client, task_queue: str
) -> None:
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    for headers, body, status, words in REFUSED:
        answer = await api.post(hook, content=body, headers=headers)
        assert answer.status_code == status, (headers, answer.text)
        error = answer.json()["error"]
        assert words in error["message"], (headers, error)
        assert error["field"] == "body"
    await started_nothing(api, temporal_client, task_queue)


async def test_a_body_parsed_in_a_worker_thread_reaches_its_run_whole(
    api: httpx.AsyncClient,
) -> None:
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    value = {"pad": "x" * (2 * INLINE_PARSE_BYTES), "n": [1.5, -2e300]}
    waited = await api.post(hook + "/wait", json=value)
    assert waited.status_code == 200, waited.text
    assert waited.json()["result"] == value
