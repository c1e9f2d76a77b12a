"""How an action fails inside the workflow: a :class:`Failure` carried by an exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Failure:
    """Why an action failed.

    Attributes:
        type: The error type (an exception class name, or a Keel category).
        message: What went wrong.
        attempts: Attempts made.
    """

    type: str
    message: str
    attempts: int

    def as_error(self, ref: str) -> dict[str, Any]:
        """Return the ``ACTIONS.<ref>.error`` value for error paths."""
        return {"ref": ref, "type": self.type, "message": self.message, "attempts": self.attempts}


class ActionFailedError(Exception):
    """Raised inside the runner to stop an action; carries the :class:`Failure`."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure
