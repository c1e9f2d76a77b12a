"""The asyncio stream's bookkeeping: back-pressure on reads, the end of a connection, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpcore
import pytest

from keel.actions.streams import READ_HIGH_WATER, READ_LOW_WATER, AsyncioStream, _Connection


class FakeTransport(asyncio.Transport):
    """Records what the protocol asks of its transport."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.written = b""
        self.closing = False

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def stream() -> tuple[AsyncioStream, _Connection, FakeTransport]:
    conn = _Connection()
    transport = FakeTransport()
    conn.connection_made(transport)
    return AsyncioStream(conn), conn, transport


async def test_reading_pauses_past_the_high_water_mark_and_resumes_below_the_low() -> None:
    s, conn, transport = stream()
    conn.data_received(b"x" * READ_HIGH_WATER)
    assert transport.calls == []
    conn.data_received(b"y")
    assert transport.calls == ["pause"]
    drained = READ_HIGH_WATER + 1 - READ_LOW_WATER
    assert await s.read(drained) == b"x" * drained
    assert transport.calls == ["pause"]  # at the low-water mark, not below it
    await s.read(1)
    assert transport.calls == ["pause", "resume"]


async def test_a_read_waits_for_data_then_sees_the_end() -> None:
    s, conn, _ = stream()
    loop = asyncio.get_running_loop()
    loop.call_soon(conn.data_received, b"hello")
    assert await s.read(100) == b"hello"
    assert s.get_extra_info("is_readable") is False
    loop.call_soon(conn.eof_received)
    assert await s.read(100) == b""
    assert s.get_extra_info("is_readable") is True  # an idle connection at its end: closed


async def test_a_broken_connection_is_a_read_error_after_what_was_received() -> None:
    s, conn, _ = stream()
    conn.data_received(b"partial")
    conn.connection_lost(ConnectionResetError("reset by peer"))
    assert await s.read(100) == b"partial"
    with pytest.raises(httpcore.ReadError, match="reset by peer"):
        await s.read(100)


async def test_writes_go_to_the_transport_and_fail_once_it_closes() -> None:
    s, _, transport = stream()
    await s.write(b"GET / HTTP/1.1\r\n\r\n")
    await s.write(b"")
    assert transport.written == b"GET / HTTP/1.1\r\n\r\n"
    await s.aclose()
    with pytest.raises(httpcore.WriteError):
        await s.write(b"more")


async def test_a_full_write_buffer_times_the_write_out() -> None:
    s, conn, _ = stream()
    conn.pause_writing()
    with pytest.raises(httpcore.WriteTimeout):
        await s.write(b"data", timeout=0.05)
    conn.resume_writing()
    await s.write(b"data", timeout=0.05)  # no longer blocked


async def test_a_silent_connection_times_the_read_out() -> None:
    s, _, _ = stream()
    with pytest.raises(httpcore.ReadTimeout):
        await s.read(100, timeout=0.05)
