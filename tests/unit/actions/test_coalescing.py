"""The coalescing stream: one write per request, nothing reordered, nothing held past a read."""

from __future__ import annotations

from typing import Any

import httpcore
import pytest

from keel.actions.coalescing import HOLD_MAX_BYTES, CoalescingStream


class Recorder(httpcore.AsyncNetworkStream):
    """A stream that records what is sent and what happens, in order."""

    def __init__(self, fail_writes: bool = False) -> None:
        self.log: list[tuple[str, bytes]] = []
        self.fail_writes = fail_writes

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self.fail_writes:
            raise httpcore.WriteError("the server closed the connection")
        self.log.append(("write", buffer))

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.log.append(("read", b""))
        return b"HTTP/1.1 200 OK\r\n\r\n"

    async def aclose(self) -> None:
        self.log.append(("close", b""))

    def get_extra_info(self, info: str) -> Any:
        return f"info:{info}"


async def test_headers_and_body_leave_in_one_write_before_the_read() -> None:
    inner = Recorder()
    stream = CoalescingStream(inner)
    await stream.write(b"POST / HTTP/1.1\r\n\r\n")
    assert inner.log == []  # held
    await stream.write(b'{"n": 1}')
    await stream.write(b"")  # h11's end of a Content-Length body
    await stream.read(100)
    assert inner.log == [("write", b'POST / HTTP/1.1\r\n\r\n{"n": 1}'), ("read", b"")]


async def test_a_request_without_body_is_sent_when_the_response_is_read() -> None:
    inner = Recorder()
    stream = CoalescingStream(inner)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")
    await stream.read(100)
    assert inner.log == [("write", b"GET / HTTP/1.1\r\n\r\n"), ("read", b"")]


async def test_large_writes_are_sent_at_once_in_order() -> None:
    inner = Recorder()
    stream = CoalescingStream(inner)
    big = b"x" * (HOLD_MAX_BYTES + 1)
    await stream.write(big)
    await stream.write(b"tail")
    await stream.write(big)
    await stream.read(1)
    assert [entry[1] for entry in inner.log] == [big, b"tail" + big, b""]


async def test_a_write_error_on_flush_is_left_to_the_read_as_httpcore_does() -> None:
    stream = CoalescingStream(Recorder(fail_writes=True))
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")
    assert await stream.read(100) == b"HTTP/1.1 200 OK\r\n\r\n"
    with pytest.raises(httpcore.WriteError):
        await stream.write(b"x" * (HOLD_MAX_BYTES + 1))


async def test_close_drops_what_is_held_and_extra_info_passes_through() -> None:
    inner = Recorder()
    stream = CoalescingStream(inner)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")
    await stream.aclose()
    assert inner.log == [("close", b"")]
    assert stream.get_extra_info("socket") == "info:socket"
