"""The event loop a long-running Keel process runs on (``KEEL_EVENT_LOOP``).

``keel api`` and ``keel worker`` spend much of their Python time in the event loop itself
(sockets, callbacks, timers). uvloop, a well-kept event loop on libuv, does that work for less
CPU: measured with old and new alternated, ~4% less CPU per ``/wait`` webhook run in the API
process and ~7% less per I/O-bound run in a worker (bench/RESULTS.md, session 6). ``auto`` uses
it where it is installed (a dependency of Keel on Linux and macOS) and asyncio's own loop
elsewhere; ``asyncio`` is there for a platform or a library that does not get along with it.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

from keel.config import EventLoop
from keel.errors import ConfigError

T = TypeVar("T")


def resolve(choice: EventLoop) -> Literal["uvloop", "asyncio"]:
    """Return the loop ``choice`` stands for on this machine.

    Raises:
        ConfigError: ``uvloop`` was asked for and is not installed.
    """
    installed = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not installed:
        raise ConfigError(
            "KEEL_EVENT_LOOP=uvloop, but uvloop is not installed here: install it, or set "
            "KEEL_EVENT_LOOP to auto or asyncio"
        )
    if choice == "asyncio" or not installed:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T], choice: EventLoop) -> T:
    """Run ``main`` to completion on the event loop ``choice`` names (like ``asyncio.run``)."""
    if resolve(choice) == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
