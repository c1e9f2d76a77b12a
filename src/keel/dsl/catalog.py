"""What the validator needs to know about actions, without importing the action registry.

The pure core cannot import ``keel.actions`` (the registry holds I/O code), so the validator takes
any object that satisfies :class:`ActionCatalog`; ``keel.actions.registry.Registry`` is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Checks literal argument values: ``(argument, message)`` per value of the wrong type.
LiteralCheck = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class ActionSignature:
    """The argument names an action accepts.

    Attributes:
        name: The dotted action name.
        required: Arguments that must be given.
        optional: Arguments that may be given (they have defaults).
        accepts_any: Whether the action takes ``**kwargs`` (then unknown names are allowed).
        check_literals: Checks the arguments given as literals (no expression) against their
            types at commit time; None when the catalog cannot tell.
        lambda_args: Arguments that hold ``python_lambda`` source, compiled at commit time when
            given as literals.
    """

    name: str
    required: frozenset[str]
    optional: frozenset[str]
    accepts_any: bool = False
    check_literals: LiteralCheck | None = field(default=None, compare=False, repr=False)
    lambda_args: frozenset[str] = field(default=frozenset({"python_lambda"}), compare=False)


class ActionCatalog(Protocol):
    """Looks up action signatures by dotted name."""

    def signature(self, name: str) -> ActionSignature | None:
        """Return the signature of action ``name``, or ``None`` when no such action exists."""
        ...

    def names(self) -> list[str]:
        """Return every registered action name (for "did you mean" hints)."""
        ...


#: Tracecat actions Keel does not offer, by name prefix, with what to use instead.
TRACECAT_ONLY: tuple[tuple[str, str], ...] = (
    (
        "core.cases.",
        "cases are Tracecat's case management; Keel has none: call your ticketing "
        "system's API with core.http_request or an action package",
    ),
    (
        "core.table.",
        "tables are Tracecat's built-in database; Keel has none: use your own store "
        "through core.http_request, or core.transform.deduplicate for seen-before checks",
    ),
    (
        "core.tables.",
        "tables are Tracecat's built-in database; Keel has none: use your own store "
        "through core.http_request, or core.transform.deduplicate for seen-before checks",
    ),
    (
        "ai.",
        "AI agents and LLM calls are Tracecat's; Keel offers none: call a model's HTTP API "
        "with core.http_request or an action package",
    ),
    (
        "llm.",
        "LLM calls are Tracecat's; Keel offers none: call a model's HTTP API with "
        "core.http_request or an action package",
    ),
    (
        "core.ai.",
        "AI actions are Tracecat's; Keel offers none: call a model's HTTP API with "
        "core.http_request or an action package",
    ),
    (
        "core.workflow.get_status",
        "not offered: read a child's result with core.workflow.execute (wait_strategy: wait)",
    ),
    (
        "core.send_email",
        "Tracecat's SMTP action is not offered: use core.http_request against "
        "your mail API, or an action package",
    ),
    ("core.open_case", "cases are Tracecat's case management; Keel has none"),
    ("core.grpc.", "gRPC calls are not offered: use an action package"),
    ("core.ssh.", "SSH is not offered: use an action package"),
    (
        "tools.",
        "Tracecat's tools.* integrations are not shipped with Keel: install an action "
        "package or point KEEL_TEMPLATE_PATHS at a folder of templates that provide it",
    ),
)


def unavailable_tracecat_action(name: str) -> str:
    """Return `` (a Tracecat action Keel does not offer: ...)`` for a known one, else ``""``."""
    for prefix, advice in TRACECAT_ONLY:
        if name == prefix or name.startswith(prefix):
            return f" (a Tracecat action Keel does not offer: {advice})"
    return ""
