"""KEEL_EVENT_LOOP: which event loop keel api and keel worker run on."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from keel.errors import ConfigError
from keel.processes import event_loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_is_uvloop_where_it_is_installed_and_asyncio_is_asyncio() -> None:
    assert importlib.util.find_spec("uvloop") is not None  # a dependency on this platform
    assert event_loop.resolve("auto") == "uvloop"
    assert event_loop.resolve("uvloop") == "uvloop"
    assert event_loop.resolve("asyncio") == "asyncio"


def test_run_runs_on_the_loop_it_names() -> None:
    assert event_loop.run(_loop_module(), "auto").startswith("uvloop")
    assert event_loop.run(_loop_module(), "asyncio").startswith("asyncio")


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    assert event_loop.resolve("auto") == "asyncio"
    with pytest.raises(ConfigError, match="KEEL_EVENT_LOOP=uvloop, but uvloop is not installed"):
        event_loop.resolve("uvloop")
