"""The executor protocol: how the orchestrator asks for one action call and what it gets back.

An executor runs an action's code somewhere (in this process, on Ray) and never raises for the
action's own failures: unknown actions, bad arguments, exceptions and timeouts all come back as an
:class:`ActionOutcome` carrying an :class:`ActionFailure`. Only cancellation (the activity was
cancelled) propagates. The dataclasses are frozen and JSON-friendly, like every Temporal payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from keel.errors import ActionArgumentError, RegistryError

if TYPE_CHECKING:
    from keel.actions.registry import ActionSpec, Registry


@dataclass(frozen=True)
class ActionCall:
    """One call of a registered action.

    Attributes:
        action: The registered (dotted) action name, e.g. ``core.http_request``.
        args: Keyword arguments, already evaluated (no expressions left).
        timeout: Seconds the call may take; None means no limit.
        secrets: The values of the secrets the action declares (name -> key -> value),
            resolved by the activity; the action reads them with ``keel.secret``.
    """

    action: str
    args: dict[str, Any]
    timeout: float | None = None
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ActionFailure:
    """Why an action call failed.

    Attributes:
        type: The exception's class name (``ValueError``, ``TimeoutError``, ``HttpStatusError``).
        message: What went wrong, for a user to read.
        retryable: False when another attempt cannot succeed (unknown action, bad arguments).
    """

    type: str
    message: str
    retryable: bool = True


@dataclass(frozen=True)
class ActionOutcome:
    """The result of an action call: a value, or a failure.

    Attributes:
        result: The action's return value (None when it failed).
        error: The failure, or None when the call succeeded.
    """

    result: Any = None
    error: ActionFailure | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None


class Executor(Protocol):
    """Runs action calls; one instance serves a whole worker process."""

    async def run(self, call: ActionCall) -> ActionOutcome:
        """Run one call and report its result or failure (never raises for action failures)."""
        ...

    async def close(self) -> None:
        """Release the executor's resources (threads, a Ray connection)."""
        ...


def failed(exc: BaseException, *, retryable: bool = True) -> ActionOutcome:
    """Return the outcome of a call that raised ``exc``.

    The message is ``str(exc)``, or the class name when the exception has no message (so that a
    bare ``raise ValueError`` still says something).
    """
    name = type(exc).__name__
    return ActionOutcome(error=ActionFailure(name, str(exc) or name, retryable))


def timed_out(action: str, seconds: float) -> ActionOutcome:
    """Return the outcome of a call of ``action`` that ran past its ``seconds`` budget."""
    message = f"action {action} did not finish within {seconds:g} s"
    return ActionOutcome(error=ActionFailure("TimeoutError", message))


def prepare(
    registry: Registry, call: ActionCall
) -> tuple[ActionSpec, dict[str, Any]] | ActionOutcome:
    """Resolve and validate a call before anything runs.

    Returns:
        The action's spec and its validated arguments, or a non-retryable failed outcome when the
        action is unknown or the arguments do not match its signature (every bad one is named).
    """
    try:
        spec = registry.get(call.action)
    except RegistryError as exc:
        return failed(exc, retryable=False)
    try:
        return spec, spec.validate_args(call.args)
    except ActionArgumentError as exc:
        return failed(exc, retryable=False)
