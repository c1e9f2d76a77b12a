"""Warm Ray actors for async actions: a long-lived event loop and keep-alive HTTP per actor.

A Ray *task* per call pays, every time, for scheduling through the raylet, a new event loop
(``asyncio.run``) and, for ``core.http_request``, a new HTTP client and TCP connection (Ray
tasks cannot share a connection pool: each runs on its own short-lived loop). Measured on the
40-step I/O chain, that was 4-5 ms per step over the in-process executor. An *actor* is a Ray
worker process that stays up: calls to it skip the raylet (Ray sends them straight to the
actor), run as tasks on its one event loop, and reuse the actor's
:class:`~keel.actions.connections.ClientPool`, as the in-process executor does.

Only async actions go to the actors: they cooperate with the loop, so many calls share one actor
(:data:`ACTOR_CONCURRENCY`) and a timed-out call can be cancelled inside it (Ray cancels the
coroutine). A call that ignores its cancellation (an async action that blocks its loop) gets
:data:`CANCEL_GRACE_SECONDS`; then its actor is killed and replaced, so a runaway action still
really stops. Sync actions stay one Ray task per call (:mod:`keel.execution.ray`), where a
timeout kills the worker process of that call alone.

A crashed actor (its process died: an action called ``os._exit``, the machine ran out of memory)
fails the calls it was running, as data, and is replaced by a fresh one for the next calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
from ray import cloudpickle

from keel.actions.connections import CURRENT_POOL, ClientPool
from keel.actions.redaction import CURRENT_REDACTOR, Redactor, install_log_redaction
from keel.actions.secrets import secrets_in_use
from keel.execution.ray_calls import RemoteCall, pack_result
from keel.expressions.limits import limits_set

#: Calls one actor runs at once (async I/O: they mostly wait).
ACTOR_CONCURRENCY = 64
#: Seconds a cancelled call may take to stop before its actor is killed and replaced.
CANCEL_GRACE_SECONDS = 2.0
#: Pickled functions (explicit registries) an actor keeps unpickled.
_FUNCTION_CACHE = 256


class ActionHost:
    """The actor: runs async actions on its event loop, with a shared HTTP client pool.

    ``target`` is an action name (looked up in the actor's own default registry) or a function
    pickled by value (an explicit registry's; see :mod:`keel.execution.ray`).
    """

    def __init__(self) -> None:
        self._clients = ClientPool()
        self._functions: OrderedDict[bytes, Callable[..., Any]] = OrderedDict()
        install_log_redaction()

    async def run(self, packed: bytes) -> bytes:
        """Run one call (a packed :class:`~keel.execution.ray_calls.RemoteCall`); return its result.

        As :func:`keel.execution.ray._run_action` does in a task: the call's log records are
        redacted of the secret values it read, the secrets it declares are readable during the
        call, and the worker's bounds on user code apply. The result comes back packed.
        """
        call = RemoteCall.unpack(packed)
        fn = self._resolve(call.target)
        # Each call is its own asyncio task in the actor: these context variables are its own.
        CURRENT_POOL.set(self._clients)
        CURRENT_REDACTOR.set(Redactor(call.hidden) if call.hidden else None)
        with limits_set(call.limits), secrets_in_use(call.secrets):
            result = fn(**call.args)
            if inspect.isawaitable(result):
                result = await result
        return pack_result(result)

    def pid(self) -> int:
        """Return the actor's process id (for tests and diagnostics)."""
        return os.getpid()

    def _resolve(self, target: str | bytes) -> Callable[..., Any]:
        if isinstance(target, str):
            from keel.actions.registry import default_registry

            return default_registry().get(target).fn
        fn = self._functions.get(target)
        if fn is None:
            fn = self._functions[target] = cloudpickle.loads(target)
            if len(self._functions) > _FUNCTION_CACHE:
                self._functions.popitem(last=False)
        else:
            self._functions.move_to_end(target)
        return fn


@dataclass(eq=False)
class Slot:
    """One actor of the pool and the calls it is running now (counted by this process)."""

    actor: Any
    active: int = 0


class ActorPool:
    """A fixed number of :class:`ActionHost` actors; calls go to the least busy one.

    Args:
        size: How many actors (at least 1).
        runtime_env: Ray runtime environment of the actors (clusters whose workers lack Keel).
    """

    def __init__(self, size: int, runtime_env: dict[str, Any] | None = None) -> None:
        # num_cpus=0: the actors wait on I/O; reserving a CPU each would starve the sync
        # actions' tasks of a small cluster (2 actors would hold both CPUs of a 2-core Ray).
        # No restarts or retries by Ray: a dead actor is replaced here, and a retry of an
        # action is the workflow's decision.
        options: dict[str, Any] = {
            "num_cpus": 0,
            "max_concurrency": ACTOR_CONCURRENCY,
            "max_restarts": 0,
            "max_task_retries": 0,
        }
        if runtime_env is not None:
            options["runtime_env"] = runtime_env
        self._actor_class = ray.remote(ActionHost).options(**options)
        self._slots = [self._new_slot() for _ in range(max(size, 1))]
        self._watchdogs: set[asyncio.Task[None]] = set()

    def _new_slot(self) -> Slot:
        return Slot(self._actor_class.remote())

    @property
    def actors(self) -> list[Any]:
        """The actor handles now in the pool (for tests and diagnostics)."""
        return [slot.actor for slot in self._slots]

    async def ready(self) -> None:
        """Return once every actor of the pool has started and answers calls.

        An actor's process starts (and imports Keel, about 0.7 s of CPU) in the background
        when the pool is created; a caller that must not share the machine with that start-up
        (a worker about to take work, a benchmark about to time calls) awaits this first.
        Raises what Ray raises if an actor could not start.
        """
        await asyncio.gather(*(slot.actor.pid.remote() for slot in self._slots))

    def acquire(self) -> Slot:
        """Return the least busy slot, counting one more call on it."""
        slot = min(self._slots, key=lambda s: s.active)
        slot.active += 1
        return slot

    def release(self, slot: Slot) -> None:
        """Count one call less on ``slot``."""
        slot.active -= 1

    def replace(self, slot: Slot) -> None:
        """Kill ``slot``'s actor (if still in the pool) and put a fresh one in its place."""
        try:
            index = self._slots.index(slot)
        except ValueError:
            return  # already replaced (two of its calls failed together)
        self._slots[index] = self._new_slot()
        with contextlib.suppress(Exception):  # already dead
            ray.kill(slot.actor, no_restart=True)

    def stop_call(self, slot: Slot, ref: Any) -> None:
        """Cancel a call; replace its actor if the call has not stopped after a grace period."""
        ray.cancel(ref)
        watchdog = asyncio.get_running_loop().create_task(self._watch(slot, ref))
        self._watchdogs.add(watchdog)
        watchdog.add_done_callback(self._watchdogs.discard)

    async def _watch(self, slot: Slot, ref: Any) -> None:
        try:
            await asyncio.wait_for(asyncio.wrap_future(ref.future()), CANCEL_GRACE_SECONDS)
        except TimeoutError:
            self.replace(slot)  # the call ignored its cancellation: stop it with its process
        except Exception:  # the call ended, cancelled or failing: the actor is fine
            return

    def close(self) -> None:
        """Kill every actor and stop watching cancelled calls."""
        for watchdog in list(self._watchdogs):
            watchdog.cancel()
        for slot in self._slots:
            with contextlib.suppress(Exception):
                ray.kill(slot.actor, no_restart=True)
        self._slots = []
