"""The region actions: ``core.transform.scatter``/``gather`` and ``core.loop.start``/``end``.

These declare the actions' arguments for the registry (commit-time checks, ``keel actions
list``). The orchestrator runs the regions themselves inside the workflow
(:mod:`keel.orchestration.regions`); only ``scatter`` is ever called as a function, when its
``collection`` reads ``SECRETS`` and so must be evaluated in an activity.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from keel.actions.registry import action
from keel.actions.schema import Doc

_HANDLED = "is run by the orchestrator as part of its region; it cannot be called directly"


@action("core.transform.scatter", pure=True)
def scatter(
    collection: Annotated[
        Any, Doc("The list to fan out: the actions after the scatter run once per item.")
    ],
    interval: Annotated[
        float | None, Doc("Seconds to wait between starting one item and the next.")
    ] = None,
) -> Any:
    """Open a region whose actions run once per item of ``collection`` (one stream per item)."""
    return collection


@action("core.transform.gather")
def gather(
    items: Annotated[
        Any, Doc("Evaluated in each stream, e.g. ${{ ACTIONS.<last>.result }}; collected in order.")
    ],
    drop_nulls: Annotated[bool, Doc("Leave null values out of the collected list.")] = False,
    error_strategy: Annotated[
        Literal["partition", "include", "drop", "raise"],
        Doc(
            "Failed streams: partition (errors in .error), include (in .result), drop, or "
            "raise (fail the gather)."
        ),
    ] = "partition",
) -> Any:
    """Close the innermost scatter region and collect one value per stream, in item order."""
    raise NotImplementedError(f"core.transform.gather {_HANDLED}")


@action("core.loop.start")
def loop_start() -> Any:
    """Open a do-while region; its result is ``{iteration: N}``, 0 on the first pass."""
    raise NotImplementedError(f"core.loop.start {_HANDLED}")


@action("core.loop.end")
def loop_end(
    condition: Annotated[
        Any, Doc("Evaluated after each pass with that pass's results; truthy runs another pass.")
    ],
    max_iterations: Annotated[
        int, Doc("The most passes; a loop still going after them fails (default 100).")
    ] = 100,
) -> Any:
    """Close a do-while region: run it again while ``condition`` holds."""
    raise NotImplementedError(f"core.loop.end {_HANDLED}")
