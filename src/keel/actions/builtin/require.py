"""``core.require``: assert conditions in a workflow, failing the action with a message.

Tracecat's semantics: ``conditions`` is one boolean or a list of them (usually expressions such
as ``${{ ACTIONS.score.result > 5 }}``); with ``require_all`` every one must hold, else at least
one. When they do not hold, the action fails (``raise_error``, the default) or returns ``False``.
"""

from __future__ import annotations

from typing import Annotated

from keel.actions.registry import action
from keel.actions.schema import Doc
from keel.errors import KeelError


class RequirementError(KeelError):
    """The conditions of a ``core.require`` did not hold."""


@action("core.require", title="Require", pure=True)
def require(
    conditions: Annotated[
        bool | list[bool], Doc("The condition(s) to check: a boolean or a list of them.")
    ],
    require_all: Annotated[
        bool, Doc("True: every condition must hold; False: at least one must.")
    ] = True,
    raise_error: Annotated[
        bool, Doc("Fail the action when the conditions do not hold (else return false).")
    ] = True,
    message: Annotated[
        str | None, Doc("The error message when they do not hold (Keel's addition).")
    ] = None,
) -> bool:
    """Check conditions; return true when they hold, else fail (or return false).

    Raises:
        RequirementError: The conditions do not hold and ``raise_error`` is true; the message
            is ``message`` or names the conditions that failed by position.
    """
    values = conditions if isinstance(conditions, list) else [conditions]
    if not values:
        raise RequirementError("core.require needs at least one condition")
    holds = all(values) if require_all else any(values)
    if holds or not raise_error:
        return holds
    if message:
        raise RequirementError(message)
    if len(values) == 1:
        raise RequirementError("the condition is false")
    failed = [str(i) for i, value in enumerate(values) if not value]
    if require_all:
        raise RequirementError(f"condition(s) {', '.join(failed)} of {len(values)} are false")
    raise RequirementError(f"none of the {len(values)} conditions is true")
