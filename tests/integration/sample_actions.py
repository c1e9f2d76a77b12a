"""Test-only actions in a registry of their own (never the default one).

The Ray executor ships these functions to its workers by value, so this module need not be
importable there.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from keel.actions.redaction import redact
from keel.actions.registry import Registry, action

registry = Registry()


class UnpicklableError(Exception):
    """An exception whose constructor takes two arguments, which pickle cannot rebuild."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")


@action("test.add", registry=registry)
def add(a: int, b: int) -> int:
    """Add two numbers (sync)."""
    return a + b


@action("test.add_async", registry=registry)
async def add_async(a: int, b: int) -> int:
    """Add two numbers (async)."""
    await asyncio.sleep(0)
    return a + b


@action("test.fail", registry=registry)
def fail(message: str) -> None:
    """Raise a LookupError."""
    raise LookupError(message)


@action("test.fail_unpicklable", registry=registry)
async def fail_unpicklable(code: int) -> None:
    """Raise an exception that cannot travel back from a Ray worker pickled."""
    raise UnpicklableError(code, "went wrong")


@action("test.sleep", registry=registry)
def sleep(seconds: float) -> float:
    """Block for ``seconds`` (sync: the executor must keep its event loop free)."""
    time.sleep(seconds)
    return seconds


@action("test.sleep_async", registry=registry)
async def sleep_async(seconds: float) -> float:
    """Wait for ``seconds`` (async)."""
    await asyncio.sleep(seconds)
    return seconds


@action("test.raise_timeout", registry=registry)
async def raise_timeout(message: str) -> None:
    """Raise a TimeoutError of the action's own (not the executor's deadline)."""
    raise TimeoutError(message)


@action("test.redacted", registry=registry)
def redacted(text: str) -> str:
    """Return ``text`` as the running call's redactor shows it (wherever the call runs)."""
    return redact(text)


@action("test.whoami_async", registry=registry)
async def whoami_async() -> int:
    """Return the id of the process the call runs in (async)."""
    return os.getpid()


@action("test.exit_async", registry=registry)
async def exit_async() -> None:
    """End the process the call runs in at once, as a crash would (async)."""
    os._exit(3)


@action("test.block_async", registry=registry)
async def block_async(seconds: float) -> float:
    """Block the event loop for ``seconds`` (an async action that ignores cancellation)."""
    time.sleep(seconds)
    return seconds


@action("test.rendezvous", registry=registry)
async def rendezvous(folder: str, count: int) -> int:
    """Leave a mark in ``folder``, then wait until ``count`` marks are there; return the count.

    The calls only all finish if they run at the same time (sequential ones would wait forever,
    so the caller gives them a timeout).
    """
    here = Path(folder)
    (here / f"{os.getpid()}-{id(here)}-{time.monotonic_ns()}").touch()
    while len(list(here.iterdir())) < count:
        await asyncio.sleep(0.01)
    return count
