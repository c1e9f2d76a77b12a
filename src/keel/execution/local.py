"""The in-process executor: action code runs in the worker's own Python process.

Async actions are awaited on the event loop; sync actions run in a bounded thread pool, so a
blocking action never stalls the loop (and with it the Temporal worker's heartbeats and polls).

Caveat: Python cannot kill a thread. A sync action that times out is reported as a
``TimeoutError`` at once, but its thread is *abandoned*, not stopped: it runs to completion in the
background and occupies a pool slot until then. Actions that may hang should take a timeout of
their own (``core.http_request`` does), or run on the Ray executor, which can kill its worker.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from keel.actions.connections import CURRENT_POOL, ClientPool
from keel.actions.secrets import CURRENT_SECRETS
from keel.execution.base import ActionCall, ActionOutcome, failed, prepare, timed_out

if TYPE_CHECKING:
    from keel.actions.registry import Registry

#: Threads for sync actions; enough for I/O-bound actions on a small machine.
DEFAULT_MAX_THREADS = 32


class LocalExecutor:
    """Runs actions in this process: async ones on the loop, sync ones in a thread pool.

    Args:
        registry: Where actions are looked up; the default registry when None.
        max_threads: Size of the thread pool for sync actions.
    """

    def __init__(self, registry: Registry | None = None, *, max_threads: int = DEFAULT_MAX_THREADS):
        if registry is None:
            from keel.actions.registry import default_registry

            registry = default_registry()
        self._registry = registry
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="keel-action")
        self._clients = ClientPool()

    async def run(self, call: ActionCall) -> ActionOutcome:
        """Run one call; failures, bad arguments and timeouts come back as a failed outcome."""
        prepared = prepare(self._registry, call)
        if isinstance(prepared, ActionOutcome):
            return prepared
        spec, args = prepared
        deadline = asyncio.timeout(call.timeout)
        token = CURRENT_POOL.set(self._clients)
        secrets_token = CURRENT_SECRETS.set(call.secrets)
        try:
            async with deadline:
                if spec.is_async:
                    result = await spec.fn(**args)
                else:
                    result = await self._run_in_thread(spec.fn, args)
        except TimeoutError as exc:
            # Tell our deadline apart from a TimeoutError the action raised itself.
            if deadline.expired() and call.timeout is not None:
                return timed_out(call.action, call.timeout)
            return failed(exc)
        except Exception as exc:
            return failed(exc)
        finally:
            CURRENT_SECRETS.reset(secrets_token)
            CURRENT_POOL.reset(token)
        return ActionOutcome(result=result)

    async def _run_in_thread(self, fn: Any, args: dict[str, Any]) -> Any:
        """Run a sync function in the pool, with the caller's context variables."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(self._pool, functools.partial(context.run, fn, **args))

    async def close(self) -> None:
        """Stop accepting work; threads of abandoned (timed-out) calls are not waited for."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        await self._clients.aclose()
