"""Asking a run's queries (``progress``, ``context``, ``items``) so that the asker never hangs.

A query is answered by the worker that has the run cached, and Temporal gives it no deadline of
its own: the client waits as long as the worker takes, or forever when no answer is coming.
Two ways that happens, both seen in Keel's tests:

* The query reaches the worker while the run's last workflow task is completing. The worker
  buffers it, then evicts the finished run from its cache; a second query buffered beside the
  first is dropped with the run (the SDK core logs "There were leftover buffered tasks when
  evicting run") and is never answered. The run has closed by then, and a closed run is read
  from its close event, so :func:`ask` stops waiting as soon as the run is seen closed.
* The run's workflow task is held open: local activities that run long keep it open, and
  Temporal holds queries until the task's next heartbeat (80% of the workflow task timeout,
  8 s under the default 10 s), or the worker is saturated, stopped, or gone. :func:`ask` gives
  up after :data:`QUERY_TIMEOUT` and says so with :class:`RunNotAnsweringError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from keel.errors import KeelError

T = TypeVar("T")

#: How long a running run's worker has to answer one query. Longer than the workflow task
#: heartbeat (8 s), so a query held behind a long local activity still gets its answer.
QUERY_TIMEOUT = timedelta(seconds=10)

#: The same for a closed run: the worker replays the whole history first (seconds for a run
#: with thousands of ``for_each`` items). Temporal's own frontend gave up after about 29 s
#: when no worker answered, so more would never be waited for.
REPLAY_QUERY_TIMEOUT = timedelta(seconds=30)

#: How often a pending query looks whether its run closed meanwhile (one ``describe`` each).
CLOSE_CHECK_SECONDS = 0.25

#: What the SDK raises when the query's own deadline passes (CANCELLED, "Timeout expired"),
#: and what a server whose deadline passed first answers.
_TIMED_OUT = (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)


class RunNotAnsweringError(KeelError):
    """No worker answered a query about a run in time.

    Attributes:
        execution_id: The run.
        query: The query's name.
        seconds: How long it was given.
    """

    def __init__(self, execution_id: str, query: str, seconds: float) -> None:
        self.execution_id = execution_id
        self.query = query
        self.seconds = seconds
        super().__init__(
            f"run {execution_id} did not answer its '{query}' query within {seconds:g} s: "
            "the worker that runs it is busy (a long local activity holds its workflow task "
            "open, or its machine is saturated) or no worker is polling its task queue"
        )


class RunClosedMeanwhile(Exception):  # noqa: N818 - a signal to read the close event, not a fault
    """The run closed while a query about it was pending: read its close event instead."""


def is_closed(status: WorkflowExecutionStatus | None) -> bool:
    """Return whether a run in ``status`` has closed (its state can no longer change)."""
    return status not in (None, WorkflowExecutionStatus.RUNNING)


async def ask(
    handle: WorkflowHandle[Any, Any],
    query: str,
    *args: Any,
    result_type: type[T],
    running: bool = True,
) -> T:
    """Ask ``query`` of a run and return its answer, without ever waiting unbounded.

    Args:
        handle: The run.
        query: The query's name.
        *args: Its argument, if it takes one.
        result_type: The type of its answer.
        running: The run was running when last seen: give up as soon as it closes (its close
            event says the rest). False for a closed run, whose worker replays it to answer.

    Raises:
        RunClosedMeanwhile: The run closed while the query was pending (only when ``running``).
        RunNotAnsweringError: No answer within :data:`QUERY_TIMEOUT` (or
            :data:`REPLAY_QUERY_TIMEOUT` for a closed run).
        RPCError: Temporal refused the query (no such run...).
    """
    deadline = QUERY_TIMEOUT if running else REPLAY_QUERY_TIMEOUT
    asking: asyncio.Future[T] = asyncio.ensure_future(
        handle.query(query, *args, result_type=result_type, rpc_timeout=deadline)
    )
    try:
        while running:
            done, _ = await asyncio.wait({asking}, timeout=CLOSE_CHECK_SECONDS)
            if done:
                break
            if is_closed((await handle.describe()).status):
                raise RunClosedMeanwhile(handle.id)
        return await asking
    except RPCError as exc:
        if exc.status in _TIMED_OUT:
            raise RunNotAnsweringError(handle.id, query, deadline.total_seconds()) from exc
        raise
    finally:
        if not asking.done():
            asking.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asking
