"""The Ray executor's warm actors: async actions reuse them, crashes and runaways replace them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import ray

from keel.actions.registry import Registry, action
from keel.config import Settings
from keel.execution import actor_pool
from keel.execution.base import ActionCall
from keel.execution.ray import RayExecutor
from tests.integration.sample_actions import registry

pytestmark = pytest.mark.integration

# Shipped to the actors by value, like sample_actions'.
limits_registry = Registry()


@action("test.max_length_async", registry=limits_registry, secrets=["token"])
async def max_length_async() -> int:
    """Return the bound on built lengths in force where the call runs."""
    from keel.expressions.limits import current

    return current().max_length


@pytest.fixture
async def executor(ray_cluster: None) -> AsyncIterator[RayExecutor]:
    executor = RayExecutor(Settings(executor="ray", ray_actors=1), registry)
    yield executor
    await executor.close()


async def _pid(executor: RayExecutor) -> int:
    outcome = await executor.run(ActionCall("test.whoami_async", {}))
    assert outcome.ok, outcome.error
    return int(outcome.result)


def _actor_pids(executor: RayExecutor) -> set[int]:
    assert executor._actors is not None
    return {ray.get(actor.pid.remote()) for actor in executor._actors.actors}


async def test_async_calls_reuse_the_warm_actor(executor: RayExecutor) -> None:
    pids = {await _pid(executor) for _ in range(5)}
    assert pids == _actor_pids(executor)  # one actor, every call in it


async def test_many_calls_run_at_once_on_one_actor(executor: RayExecutor, tmp_path: Path) -> None:
    # Each call waits for all the others to arrive: they end only if they ran together.
    call = ActionCall("test.rendezvous", {"folder": str(tmp_path), "count": 8}, timeout=60)
    outcomes = await asyncio.gather(*(executor.run(call) for _ in range(8)))
    assert [o.result for o in outcomes] == [8] * 8
    assert len(_actor_pids(executor)) == 1


async def test_a_crashed_actor_is_replaced(executor: RayExecutor) -> None:
    before = await _pid(executor)
    crashed = await executor.run(ActionCall("test.exit_async", {}))
    assert crashed.error is not None
    assert crashed.error.retryable
    assert "test.exit_async" in crashed.error.message
    after = await _pid(executor)
    assert after != before
    assert _actor_pids(executor) == {after}


async def test_a_timed_out_call_is_cancelled_in_its_actor(executor: RayExecutor) -> None:
    before = await _pid(executor)
    outcome = await executor.run(ActionCall("test.sleep_async", {"seconds": 30}, timeout=0.3))
    assert outcome.error is not None
    assert outcome.error.message == "action test.sleep_async did not finish within 0.3 s"
    assert await _pid(executor) == before  # a cooperative call stops; its actor stays


async def test_a_call_that_ignores_cancellation_loses_its_actor(
    executor: RayExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actor_pool, "CANCEL_GRACE_SECONDS", 0.5)
    before = await _pid(executor)
    assert executor._actors is not None
    blocked = executor._actors.actors[0]
    outcome = await executor.run(ActionCall("test.block_async", {"seconds": 600}, timeout=0.3))
    assert outcome.error is not None
    assert outcome.error.type == "TimeoutError"
    # The blocked actor (it answers nothing now) is killed and replaced after the grace period.
    for _ in range(600):
        if blocked not in executor._actors.actors:
            break
        await asyncio.sleep(0.05)
    assert blocked not in executor._actors.actors
    assert await _pid(executor) != before


async def test_no_actors_runs_async_actions_as_tasks(ray_cluster: None) -> None:
    executor = RayExecutor(Settings(executor="ray", ray_actors=0), registry)
    try:
        assert executor._actors is None
        outcome = await executor.run(ActionCall("test.add_async", {"a": 1, "b": 2}))
    finally:
        await executor.close()
    assert outcome.result == 3


async def test_ready_waits_for_every_actor(ray_cluster: None) -> None:
    executor = RayExecutor(Settings(executor="ray", ray_actors=2), registry)
    try:
        await executor.ready()
        assert executor._actors is not None
        # Both started: each answers at once, from a process of its own.
        refs = [actor.pid.remote() for actor in executor._actors.actors]
        done, _ = ray.wait(refs, num_returns=2, timeout=10)
        assert len(done) == 2
        assert len(set(ray.get(done))) == 2
        # An actor that cannot answer is reported, not waited for forever. ray.kill is
        # asynchronous: a call sent right after it may still reach the live process (seen in
        # CI), so wait until Ray itself reports the actor dead, then ask the pool.
        killed = executor._actors.actors[1]
        ray.kill(killed, no_restart=True)
        await _until_dead(killed)
        with pytest.raises(ray.exceptions.RayActorError):
            await asyncio.wait_for(executor.ready(), 30)
    finally:
        await executor.close()


async def _until_dead(actor: object, seconds: float = 30.0) -> None:
    """Return once a call to ``actor`` fails as a dead actor's (within ``seconds``)."""
    async with asyncio.timeout(seconds):
        while True:
            try:
                await asyncio.wrap_future(actor.pid.remote().future())  # type: ignore[attr-defined]
            except ray.exceptions.RayActorError:
                return
            await asyncio.sleep(0.1)


async def test_ready_without_actors_returns_at_once(ray_cluster: None) -> None:
    executor = RayExecutor(Settings(executor="ray", ray_actors=0), registry)
    try:
        await asyncio.wait_for(executor.ready(), 1)
    finally:
        await executor.close()


@pytest.mark.parametrize("with_secret", [False, True])
async def test_the_bounds_reach_the_actors(ray_cluster: None, with_secret: bool) -> None:
    # An actor reads no Keel settings: the executor's bounds on user code must reach the async
    # actions it runs, with and without the action's secrets (test_user_code_bounds covers the
    # sync actions' tasks).
    executor = RayExecutor(Settings(executor="ray", max_value_length=1_234), limits_registry)
    secrets = {"token": {"value": "s3cret"}} if with_secret else {}
    try:
        outcome = await executor.run(ActionCall("test.max_length_async", {}, secrets=secrets))
    finally:
        await executor.close()
    assert outcome.error is None, outcome.error
    assert outcome.result == 1_234
