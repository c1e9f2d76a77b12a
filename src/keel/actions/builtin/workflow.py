"""The core action that runs another workflow as a child: ``core.workflow.execute``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from keel.actions.registry import action
from keel.actions.schema import Doc

ContextName = Literal["TRIGGER", "ACTIONS", "VARS", "SECRETS"]


@action("core.workflow.execute")
async def execute(
    *,
    workflow_alias: Annotated[str | None, Doc("Alias of the workflow to run.")] = None,
    workflow_id: Annotated[
        str | None, Doc("Id of the workflow to run (instead of an alias).")
    ] = None,
    trigger_inputs: Annotated[Any, Doc("The child's TRIGGER input.")] = None,
    environment: Annotated[str | None, Doc("Secrets environment of the child run.")] = None,
    timeout: Annotated[float | None, Doc("Whole-run timeout of the child, in seconds.")] = None,
    version: Annotated[int | None, Doc("Version of the workflow to run (default: latest).")] = None,
    wait_strategy: Annotated[
        Literal["wait", "detach"],
        Doc("wait: return the child's result; detach: return {wf_id, wf_exec_id, status}."),
    ] = "wait",
    loop_strategy: Annotated[
        Literal["parallel", "batch", "sequential"],
        Doc("How children run when the action has a for_each."),
    ] = "batch",
    batch_size: Annotated[int, Doc("Children started at once with loop_strategy batch.")] = 32,
    fail_strategy: Annotated[
        Literal["isolated", "all"],
        Doc("isolated: a failed child fails only its item; all: it fails the action."),
    ] = "isolated",
    inherit: Annotated[
        bool | list[ContextName],
        Doc("Contexts of this run passed to the child as PARENT.<context> (true: all)."),
    ] = False,
) -> Any:
    """Run another workflow as a child run; with ``wait``, return the child's result.

    This is a signature only: the orchestrator runs child workflows natively (as Temporal child
    workflows), so this function is never called.
    """
    raise NotImplementedError(
        "core.workflow.execute is handled by the orchestrator as a child workflow; "
        "it cannot be called directly"
    )
