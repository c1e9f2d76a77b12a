"""The Ray executor: each action call is one Ray task, awaited from the worker's event loop.

Arguments are validated in this process first (a bad call costs no round trip). Then the task
resolves the action *inside the Ray worker* and runs it there (``asyncio.run`` for async actions).
What travels to the worker depends on the registry:

- the default registry (production): only the action's **name**; the Ray worker imports Keel and
  looks the name up in its own ``default_registry()``. Nothing but names and JSON-like arguments
  cross the wire, so driver and workers may even run different builds of the same action code.
- a registry given explicitly (tests, plugins): the action's **function object**, pickled by
  cloudpickle: by reference when the Ray worker can import its module (the driver's ``sys.path``
  is handed to local Ray workers), by value otherwise. Test actions therefore need no entry in
  the default registry and no module inside the package.

Ray workers must be able to import ``keel``: on a local Ray started here they share this
virtualenv. When joining a remote cluster (``KEEL_RAY_ADDRESS``), install Keel in the cluster's
image, or pass a ``runtime_env`` (for example ``{"pip": ["keel==<version>"]}`` or
``{"py_modules": [<path of the keel package>]}``) to :class:`RayExecutor`.

Timeouts cancel the task with ``ray.cancel(force=True)``, which kills the Ray worker process:
unlike a thread, a runaway action really stops. Ray never retries a task here
(``max_retries=0``): retries are Keel's decision, made in the workflow, where they are recorded.

Only this module imports ``ray``; ``keel.execution.factory`` imports it when the executor is
``ray``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import RayError, RayTaskError

from keel.execution.base import ActionCall, ActionFailure, ActionOutcome, failed, prepare, timed_out

if TYPE_CHECKING:
    from keel.actions.registry import Registry
    from keel.config import Settings


def _run_action(target: str | Callable[..., Any], args: dict[str, Any]) -> Any:
    """Run one action inside a Ray worker; ``target`` is an action name or the function itself."""
    if isinstance(target, str):
        from keel.actions.registry import default_registry

        fn = default_registry().get(target).fn
    else:
        fn = target
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(fn(**args))
    return fn(**args)


# Ray must not retry: a retry of an action with side effects is the workflow's call to make.
_remote_action = ray.remote(max_retries=0)(_run_action)


class RayExecutor:
    """Runs each action call as a Ray task, on a local Ray or a cluster.

    Ray is started (or joined) on the first call, off the event loop; if Ray was already
    initialised in this process (a test fixture, an embedding application), that Ray is used and
    left running at :meth:`close`.

    Args:
        settings: ``ray_address`` (empty starts a local Ray) and ``ray_num_cpus``.
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
        self._ship_functions = registry is not None
        if registry is None:
            from keel.actions.registry import default_registry

            registry = default_registry()
        self._registry = registry
        self._task = _remote_action.options(num_cpus=num_cpus_per_task)
        self._runtime_env = runtime_env
        self._started_ray = False
        self._lock = asyncio.Lock()

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

    async def run(self, call: ActionCall) -> ActionOutcome:
        """Run one call as a Ray task; failures and timeouts come back as a failed outcome."""
        prepared = prepare(self._registry, call)
        if isinstance(prepared, ActionOutcome):
            return prepared
        spec, args = prepared
        if not ray.is_initialized():
            async with self._lock:
                await asyncio.to_thread(self.start)
        target: str | Callable[..., Any] = spec.fn if self._ship_functions else spec.name
        ref = self._task.remote(target, args)
        deadline = asyncio.timeout(call.timeout)
        try:
            async with deadline:
                result = await ref
        except TimeoutError as exc:
            if deadline.expired() and call.timeout is not None:
                ray.cancel(ref, force=True)
                return timed_out(call.action, call.timeout)
            return failed(exc)
        except RayTaskError as exc:
            return ActionOutcome(error=_unwrap(exc))
        except RayError as exc:  # the worker died, the object was lost, ...
            return failed(exc)
        except asyncio.CancelledError:
            # The activity was cancelled: stop the task, then let the cancellation through.
            ray.cancel(ref, force=True)
            raise
        return ActionOutcome(result=result)

    async def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._started_ray:
            self._started_ray = False
            with contextlib.suppress(Exception):
                await asyncio.to_thread(ray.shutdown)


def _unwrap(exc: RayTaskError) -> ActionFailure:
    """Return the failure of the action's own exception, not of Ray's wrapper around it."""
    cause = exc.cause
    if cause is not None:
        name = type(cause).__name__
        return ActionFailure(name, str(cause) or name)
    # The exception could not be pickled back: Ray kept only its text and the function name.
    return ActionFailure(exc.__class__.__name__, str(exc))
