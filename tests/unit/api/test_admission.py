"""The admission queue of inline runs: a bound, first come first served, and a bounded hold."""

from __future__ import annotations

import asyncio

from keel.api.admission import Admission


async def _enter(admission: Admission, name: str, log: list[str], release: asyncio.Event) -> None:
    async with admission.place():
        log.append(name)
        await release.wait()


async def test_callers_past_the_limit_wait_and_enter_in_arrival_order() -> None:
    admission = Admission(2, hold=30)
    log: list[str] = []
    gates = {name: asyncio.Event() for name in "abcde"}
    tasks = []
    for name in "abcde":
        tasks.append(asyncio.create_task(_enter(admission, name, log, gates[name])))
        await asyncio.sleep(0)  # arrive in this order
    await asyncio.sleep(0.01)
    assert log == ["a", "b"]
    gates["b"].set()
    await asyncio.sleep(0.01)
    assert log == ["a", "b", "c"]
    gates["a"].set()
    await asyncio.sleep(0.01)
    assert log == ["a", "b", "c", "d"]
    for gate in gates.values():
        gate.set()
    await asyncio.gather(*tasks)
    assert log == ["a", "b", "c", "d", "e"]


async def test_a_caller_that_stays_past_the_hold_gives_its_place_up() -> None:
    admission = Admission(1, hold=0.05)
    log: list[str] = []
    slow_gate, quick_gate = asyncio.Event(), asyncio.Event()
    slow = asyncio.create_task(_enter(admission, "slow", log, slow_gate))
    await asyncio.sleep(0)
    quick = asyncio.create_task(_enter(admission, "quick", log, quick_gate))
    await asyncio.sleep(0.01)
    assert log == ["slow"]  # the place is held
    await asyncio.sleep(0.1)
    assert log == ["slow", "quick"]  # past the hold: the next caller is in, the slow one too
    quick_gate.set()
    await quick
    assert not slow.done()
    slow_gate.set()
    await slow
    # The place came back exactly once: one caller is in, the next one waits.
    async with admission.place():
        entered = asyncio.Event()

        async def third() -> None:
            async with admission.place():
                entered.set()

        waiting = asyncio.create_task(third())
        await asyncio.sleep(0.01)
        assert not entered.is_set()
    await waiting
    assert entered.is_set()


async def test_a_caller_cancelled_in_the_queue_takes_no_place() -> None:
    admission = Admission(1, hold=30)
    gate = asyncio.Event()
    log: list[str] = []
    first = asyncio.create_task(_enter(admission, "first", log, gate))
    await asyncio.sleep(0)
    queued = asyncio.create_task(_enter(admission, "gone", log, asyncio.Event()))
    await asyncio.sleep(0.01)
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)
    gate.set()
    await first
    # The one place is free: a new caller enters at once.
    async with asyncio.timeout(1):
        async with admission.place():
            log.append("next")
    assert log == ["first", "next"]


async def test_no_limit_admits_everyone_at_once() -> None:
    admission = Admission(0, hold=30)
    gate = asyncio.Event()
    log: list[str] = []
    tasks = [asyncio.create_task(_enter(admission, str(n), log, gate)) for n in range(50)]
    await asyncio.sleep(0.01)
    assert len(log) == 50
    gate.set()
    await asyncio.gather(*tasks)
