"""The Ray executor: action calls run in Ray workers, awaited from the worker's event loop.

Arguments are validated in this process first (a bad call costs no round trip). Then:

- **async actions** (``core.http_request``...) go to a pool of warm Ray actors
  (:mod:`keel.execution.actor_pool`, ``KEEL_RAY_ACTORS`` of them): each keeps an event loop and
  keep-alive HTTP connections, and Ray sends calls straight to it;
- **sync actions** are one Ray task per call (``KEEL_RAY_ACTORS=0`` sends async ones there too,
  run with ``asyncio.run``): a blocking call gets a worker process of its own, which a timeout
  kills.

Either way a call travels as one :class:`~keel.execution.ray_calls.RemoteCall` pickled to
bytes, and its result comes back as bytes (Ray's own serialization of the separate values cost
more than the call: see :mod:`keel.execution.ray_calls`). The action is resolved *inside the Ray
worker*. What travels to it depends on the registry:

- the default registry (production): only the action's **name**; the Ray worker imports Keel and
  looks the name up in its own ``default_registry()``. Nothing but names and JSON-like arguments
  cross the wire, so driver and workers may even run different builds of the same action code.
- a registry given explicitly (tests, plugins): the action's **function, pickled by value**
  (cloudpickle, with its module registered by value for the dump), so the Ray worker needs no
  import of the module that defines it: test modules and ad-hoc plugins work unchanged, and no
  test action has to enter the default registry or live inside the package. Pickling by
  reference was the first choice and failed: local Ray workers did not see a module found
  through the driver's ``sys.path``. The dump is made once per function and cached.

Ray workers must be able to import ``keel``: on a local Ray started here they share this
virtualenv. When joining a remote cluster (``KEEL_RAY_ADDRESS``), install Keel in the cluster's
image, or pass a ``runtime_env`` (for example ``{"pip": ["keel==<version>"]}`` or
``{"py_modules": [<path of the keel package>]}``) to :class:`RayExecutor`.

Actions registered ``stateful`` (they use the worker's seen-keys store, e.g.
``core.transform.deduplicate``) are not sent to Ray: they run in this process, next to the
store, on an in-process executor.

Timeouts cancel a task with ``ray.cancel(force=True)``, which kills the Ray worker process:
unlike a thread, a runaway action really stops. On an actor, the call's coroutine is cancelled,
and the actor is killed and replaced if the call does not stop. Ray never retries a call here
(``max_retries=0``): retries are Keel's decision, made in the workflow, where they are recorded.

Only this module imports ``ray``; ``keel.execution.factory`` imports it when the executor is
``ray``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ray
from ray import cloudpickle
from ray.exceptions import RayActorError, RayError, RayTaskError, UnserializableException

from keel.actions.redaction import CURRENT_REDACTOR, Redactor, install_log_redaction
from keel.execution.actor_pool import ActorPool
from keel.execution.base import ActionCall, ActionFailure, ActionOutcome, failed, prepare, timed_out
from keel.execution.local import LocalExecutor
from keel.execution.ray_calls import RemoteCall, pack_result, unpack_result
from keel.expressions.limits import limits_set

if TYPE_CHECKING:
    from keel.actions.registry import Registry
    from keel.config import Settings


def _run_action(packed: bytes) -> bytes:
    """Run one call inside a Ray worker; ``packed`` is a :class:`RemoteCall`, so is the answer.

    The call's ``hidden`` secret values are redacted from the worker's log records written
    during the call, as the activity's are (:mod:`keel.actions.redaction`); its ``secrets`` are
    readable with ``keel.secret`` during the call only; its ``limits`` are the worker's bounds on
    user code (lambdas, expressions): a Ray worker process reads no Keel settings, so they
    travel with each call.
    """
    call = RemoteCall.unpack(packed)
    with limits_set(call.limits):
        if call.hidden:
            install_log_redaction()
            token = CURRENT_REDACTOR.set(Redactor(call.hidden))
            try:
                return pack_result(_call(call.target, call.args, call.secrets))
            finally:
                CURRENT_REDACTOR.reset(token)
        return pack_result(_call(call.target, call.args, call.secrets))


def _call(
    target: str | bytes, args: dict[str, Any], secrets: dict[str, dict[str, str]] | None
) -> Any:
    from keel.actions.secrets import secrets_in_use

    fn: Callable[..., Any]
    if isinstance(target, str):
        from keel.actions.registry import default_registry

        fn = default_registry().get(target).fn
    else:
        fn = cloudpickle.loads(target)
    with secrets_in_use(secrets):
        if inspect.iscoroutinefunction(fn):
            return asyncio.run(fn(**args))
        return fn(**args)


@functools.cache
def _pickled(fn: Callable[..., Any]) -> bytes:
    """Return ``fn`` pickled by value: code, and the module globals it uses, not an import path."""
    # Ray's vendored cloudpickle carries no annotations, hence the ignores.
    module = sys.modules.get(fn.__module__)
    if module is None or fn.__module__ == "__main__":  # pickled by value anyway
        return bytes(cloudpickle.dumps(fn))  # type: ignore[no-untyped-call]
    cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]
    try:
        return bytes(cloudpickle.dumps(fn))  # type: ignore[no-untyped-call]
    finally:
        cloudpickle.unregister_pickle_by_value(module)  # type: ignore[no-untyped-call]


# Ray must not retry: a retry of an action with side effects is the workflow's call to make.
_remote_action = ray.remote(max_retries=0)(_run_action)


class RayExecutor:
    """Runs action calls on Ray (warm actors for async actions, tasks for sync ones).

    Ray is started (or joined) when the executor is created, so a bad address fails a worker at
    startup rather than at its first action (a new local Ray takes about 3 s). If Ray was already
    initialised in this process (a test fixture, an embedding application), that Ray is used and
    left running at :meth:`close`.

    Args:
        settings: ``ray_address`` (empty starts a local Ray), ``ray_num_cpus`` and
            ``ray_actors`` (how many warm actors run async actions; 0 runs them as tasks).
        registry: Where actions are looked up; None uses the default registry and ships names.
        num_cpus_per_task: Ray CPU resources each action call reserves; fractions let more
            I/O-bound calls run at once than there are cores.
        runtime_env: Ray runtime environment, for clusters whose workers lack Keel.
    """

    def __init__(
        self,
        settings: Settings,
        registry: Registry | None = None,
        *,
        num_cpus_per_task: float = 1.0,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        self._settings = settings
        self._limits = settings.user_code_limits()
        self._ship_functions = registry is not None
        if registry is None:
            from keel.actions.registry import default_registry

            registry = default_registry()
        self._registry = registry
        # A Ray worker builds its own default registry from the same KEEL_ACTION_MODULES and
        # KEEL_TEMPLATE_PATHS as this process: pass them on with each task (Ray keeps a worker
        # per runtime environment), since a Ray started elsewhere did not inherit ours.
        extension_env = {} if self._ship_functions else _extension_env(settings)
        options: dict[str, Any] = {"num_cpus": num_cpus_per_task}
        if extension_env:
            options["runtime_env"] = {"env_vars": extension_env}
        self._task = _remote_action.options(**options)
        self._runtime_env = runtime_env
        self._started_ray = False
        self._local: LocalExecutor | None = None
        self.start()
        # Created now, so their processes start (and import Keel) before the first call.
        actor_env = dict(runtime_env or {})
        if extension_env:
            actor_env["env_vars"] = {**actor_env.get("env_vars", {}), **extension_env}
        self._actors = (
            ActorPool(settings.ray_actors, actor_env or None) if settings.ray_actors > 0 else None
        )

    def start(self) -> None:
        """Start or join Ray now, blocking (a few seconds for a new local Ray)."""
        if ray.is_initialized():
            return
        address = self._settings.ray_address or None
        ray.init(
            address=address,
            num_cpus=None if address else self._settings.ray_num_cpus,
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
            configure_logging=False,
            runtime_env=self._runtime_env,
        )
        self._started_ray = True

    async def ready(self) -> None:
        """Return once the warm actors (if any) have started and answer calls.

        They start in the background when the executor is created; their first call waits for
        that anyway, so awaiting this is only needed to keep their start-up out of what follows.
        """
        if self._actors is not None:
            await self._actors.ready()

    async def run(self, call: ActionCall) -> ActionOutcome:
        """Run one call as a Ray task; failures and timeouts come back as a failed outcome."""
        prepared = prepare(self._registry, call)
        if isinstance(prepared, ActionOutcome):
            return prepared
        spec, args = prepared
        if spec.stateful:
            if self._local is None:
                self._local = LocalExecutor(self._registry)
            return await self._local.run(call)
        if not ray.is_initialized():  # shut down behind our back: Ray would auto-start a default
            self.start()
        target = _pickled(spec.fn) if self._ship_functions else spec.name
        redactor = CURRENT_REDACTOR.get()
        secrets = {name: dict(keys) for name, keys in call.secrets.items()} or None
        hidden = redactor.values if redactor else ()
        packed = RemoteCall(target, args, hidden, secrets, self._limits).pack()
        if spec.is_async and self._actors is not None:
            return await self._run_on_actor(self._actors, call, packed)
        ref = self._task.remote(packed)
        deadline = asyncio.timeout(call.timeout)
        try:
            async with deadline:
                result = await ref
        except RayError as exc:  # the action raised, its worker died, the object was lost, ...
            # First: Ray re-raises an action's TimeoutError as a RayTaskError that is also one.
            return ActionOutcome(error=_unwrap(exc))
        except TimeoutError as exc:
            if deadline.expired() and call.timeout is not None:
                ray.cancel(ref, force=True)
                return timed_out(call.action, call.timeout)
            return failed(exc)
        except asyncio.CancelledError:
            # The activity was cancelled: stop the task, then let the cancellation through.
            ray.cancel(ref, force=True)
            raise
        return ActionOutcome(result=unpack_result(result))

    async def _run_on_actor(
        self, actors: ActorPool, call: ActionCall, packed: bytes
    ) -> ActionOutcome:
        """Run an async action (``packed``: its :class:`RemoteCall`) on the least busy actor."""
        slot = actors.acquire()
        try:
            ref = slot.actor.run.remote(packed)
            deadline = asyncio.timeout(call.timeout)
            try:
                async with deadline:
                    result = await ref
            except RayActorError as exc:  # the actor's process died (perhaps by this call)
                actors.replace(slot)
                return ActionOutcome(error=_actor_died(call.action, exc))
            except RayError as exc:
                return ActionOutcome(error=_unwrap(exc))
            except TimeoutError as exc:
                if deadline.expired() and call.timeout is not None:
                    actors.stop_call(slot, ref)
                    return timed_out(call.action, call.timeout)
                return failed(exc)
            except asyncio.CancelledError:
                actors.stop_call(slot, ref)
                raise
            return ActionOutcome(result=unpack_result(result))
        finally:
            actors.release(slot)

    async def close(self) -> None:
        """Shut Ray down if this executor started it (and close the in-process executor)."""
        if self._actors is not None:
            self._actors.close()
            self._actors = None
        if self._local is not None:
            await self._local.close()
            self._local = None
        if self._started_ray:
            self._started_ray = False
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ray.shutdown)


def _extension_env(settings: Settings) -> dict[str, str]:
    """Return the KEEL_* variables a Ray worker needs to find the user's actions."""
    env: dict[str, str] = {}
    if settings.action_modules:
        env["KEEL_ACTION_MODULES"] = settings.action_modules
    paths = settings.template_path_list()
    if paths:
        env["KEEL_TEMPLATE_PATHS"] = ",".join(str(p) for p in paths)
    return env


def _actor_died(action: str, exc: RayActorError) -> ActionFailure:
    """Return the failure of a call whose actor died; Ray's long explanation is cut to a line."""
    detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")[:300]
    message = f"the Ray worker running action {action} stopped before it answered"
    return ActionFailure(type(exc).__name__, f"{message}: {detail}" if detail else message)


def _unwrap(exc: RayError) -> ActionFailure:
    """Return the failure of the action's own exception, not of Ray's wrapper around it."""
    error: BaseException = exc
    if isinstance(exc, RayTaskError) and exc.cause is not None:
        error = exc.cause
    if isinstance(error, (UnserializableException, RayTaskError)):
        # The exception could not travel back (or lost its cause): Ray kept its traceback text,
        # whose last line reads "module.TypeName: message".
        parsed = _last_exception(str(error))
        if parsed is not None:
            return parsed
    name = type(error).__name__
    return ActionFailure(name, str(error) or name)


_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*(?P<type>[A-Za-z_]\w*)(?:: (?P<message>.*))?$")


def _last_exception(traceback_text: str) -> ActionFailure | None:
    """Return the type and message on the last line of a formatted traceback, if it has one."""
    for line in reversed(traceback_text.strip().splitlines()):
        match = _EXCEPTION_LINE.match(line.strip())
        if match:
            name = match["type"]
            return ActionFailure(name, match["message"] or name)
        if line.strip():
            return None
    return None
