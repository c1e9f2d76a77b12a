"""The API process's orchestrating worker is restarted when it stops, and reported meanwhile.

Pure asyncio: the workers here are small stand-ins with ``run``/``shutdown`` (the real worker
against a real dev server is in tests/integration/processes/test_orchestration.py).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

import pytest

from keel.processes.orchestrator import Orchestration


@dataclass
class _State:
    """The field of ``ServiceState`` the orchestration keeps, and what derives from it."""

    orchestration: str | None = None

    @property
    def orchestrates(self) -> bool:
        return self.orchestration == "running"


class _Worker:
    """Runs until shut down, or until ``fail`` is set, then raises it."""

    def __init__(self) -> None:
        self.stopped = asyncio.Event()
        self.fail: Exception | None = None
        self.shut_down = False

    async def run(self) -> None:
        await self.stopped.wait()
        if self.fail is not None:
            raise self.fail

    async def shutdown(self) -> None:
        self.shut_down = True
        self.stopped.set()


async def _until(condition: object, seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_worker_that_fails_is_reported_then_restarted() -> None:
    state = _State()
    built: list[_Worker] = []

    def build() -> _Worker:
        built.append(_Worker())
        return built[-1]

    keeper = Orchestration(state, build, first_pause=0.2)  # type: ignore[arg-type]
    keeper.start()
    await _until(lambda: len(built) == 1)
    assert (state.orchestrates, state.orchestration) == (True, "running")

    built[0].fail = RuntimeError("namespace gone")
    built[0].stopped.set()
    await _until(lambda: state.orchestration == "restarting")
    assert state.orchestrates is False  # eager starts here stop while it is down
    await _until(lambda: len(built) == 2)
    assert (state.orchestrates, state.orchestration) == (True, "running")
    assert keeper.restarts == 1

    await keeper.close()
    assert built[1].shut_down
    assert state.orchestrates is False
    assert len(built) == 2  # closing does not restart it


async def test_a_worker_that_returns_is_restarted_too(caplog: pytest.LogCaptureFixture) -> None:
    state = _State()
    built: list[_Worker] = []

    def build() -> _Worker:
        built.append(_Worker())
        return built[-1]

    keeper = Orchestration(state, build, first_pause=0.05)  # type: ignore[arg-type]
    keeper.start()
    await _until(lambda: len(built) == 1)
    built[0].stopped.set()  # run() returned without being asked to
    await _until(lambda: len(built) == 2)
    assert "orchestrating worker ended (it stopped)" in caplog.text
    await keeper.close()


async def test_pauses_between_restarts_grow() -> None:
    state = _State()
    built: list[_Worker] = []
    times: list[float] = []

    def build() -> _Worker:
        times.append(asyncio.get_running_loop().time())
        worker = _Worker()
        worker.fail = RuntimeError("still failing")
        worker.stopped.set()  # every worker fails at once
        built.append(worker)
        return worker

    keeper = Orchestration(state, build, first_pause=0.05)  # type: ignore[arg-type]
    keeper.start()
    await _until(lambda: len(built) == 4)
    await keeper.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
