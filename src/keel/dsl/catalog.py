"""What the validator needs to know about actions, without importing the action registry.

The pure core cannot import ``keel.actions`` (the registry holds I/O code), so the validator takes
any object that satisfies :class:`ActionCatalog`; ``keel.actions.registry.Registry`` is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ActionSignature:
    """The argument names an action accepts.

    Attributes:
        name: The dotted action name.
        required: Arguments that must be given.
        optional: Arguments that may be given (they have defaults).
        accepts_any: Whether the action takes ``**kwargs`` (then unknown names are allowed).
    """

    name: str
    required: frozenset[str]
    optional: frozenset[str]
    accepts_any: bool = False


class ActionCatalog(Protocol):
    """Looks up action signatures by dotted name."""

    def signature(self, name: str) -> ActionSignature | None:
        """Return the signature of action ``name``, or ``None`` when no such action exists."""
        ...

    def names(self) -> list[str]:
        """Return every registered action name (for "did you mean" hints)."""
        ...
