"""Where a run's activities execute: beside its workflow task, or on the worker processes.

Two kinds of process run Keel workflow tasks. A **worker** (``keel worker``, ``keel run``'s
in-process stack) registers the workflow and every activity, so a run there calls its actions as
*local activities*: the worker that runs the workflow task runs the action too (~1.3 ms per step
on the dev server, against ~8 ms for a regular activity). An **API process** (``keel api``)
starts the synchronous runs that need no activity
(:func:`keel.orchestration.action_runner.stays_in_workflow`) *eagerly* and
runs their workflow tasks itself, which saves each a round of matching; but it registers no
activity at all: an API process accepts and orchestrates, it never executes an action. A run it
starts carries ``RunRequest.actions_queue``, so should it call an activity after all (a lookup:
a ``wait_until`` phrase, a child workflow, scheduled ``VARS``; or an action of a definition the
check could not see through), that is a *regular* activity on that queue, which only workers
poll. When an API process dies its runs' next workflow tasks go to the other pollers of the
orchestration queue (workers poll it too).

The choice travels in the run's input, so a replay anywhere makes the same calls; histories
written before ``actions_queue`` existed replay as local activities, as they ran.

:data:`ACTIONS_QUEUE` holds the run's choice for the workflow code that calls activities and
starts children (set once at the top of the run; tasks the run starts copy it). Pure: imports
only ``temporalio.workflow`` (allowed in the sandbox).
"""

from __future__ import annotations

import contextvars
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

T = TypeVar("T")

#: The run's ``RunRequest.actions_queue``: None runs activities locally, beside the workflow task.
ACTIONS_QUEUE: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "keel_actions_queue", default=None
)


def orchestration_queue(task_queue: str) -> str:
    """Return the workflow task queue of runs that API processes start on ``task_queue``.

    API-started runs live on their own queue so that an API process, whose worker has no
    activities, only ever picks up runs whose activities go to ``task_queue`` (a scheduled run on
    ``task_queue`` calls local activities an API process could not run). Workers poll both.
    """
    return f"{task_queue}-orchestration"


def actions_queue() -> str | None:
    """Return the queue this run's activities go to (None: local activities)."""
    return ACTIONS_QUEUE.get()


async def call(
    activity: str,
    arg: Any,
    *,
    result_type: type[T],
    timeout: timedelta,
    retry_policy: RetryPolicy | None = None,
    activity_id: str | None = None,
    local: bool = True,
) -> T:
    """Call ``activity`` where this run's activities execute, and return its result.

    Args:
        activity: The activity's registered name.
        arg: Its one argument.
        result_type: What to decode its result as.
        timeout: Start-to-close timeout of one attempt.
        retry_policy: Temporal's retries (None: Temporal's default policy).
        activity_id: The activity id (Temporal picks one when None).
        local: Whether a local activity suits this call when the run runs activities locally
            (False for actions that may take longer than a local activity should).
    """
    queue = ACTIONS_QUEUE.get()
    if queue is None and local:
        result: T = await workflow.execute_local_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=timeout,
            retry_policy=retry_policy,
            activity_id=activity_id,
        )
        return result
    remote: T = await workflow.execute_activity(
        activity,
        arg,
        result_type=result_type,
        start_to_close_timeout=timeout,
        retry_policy=retry_policy,
        activity_id=activity_id,
        task_queue=queue,  # None: the run's own queue (a worker's run, a long action)
    )
    return remote
