"""Bounds on what comes in from outside: JSON depth, body size, runs per request.

Every way a run's input enters Keel (a webhook body, an API body that carries ``inputs``, the
CLI's ``--input``) is checked against one :class:`InputBounds` once, at that edge, before any run
starts. The depth bound exists because deeper values pass Python's JSON parser but overflow the
recursion of Temporal's JSON converter further in: measured here, a run request whose trigger is
~490 levels deep already fails to encode from a shallow stack, and the API and the worker encode
from deeper ones (a 600-900 deep body used to end in a 500 with the run half started). The
setting's ceiling (200) keeps every accepted value far below that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keel.config import Settings


def _default(name: str) -> Any:
    """Return a setting's default (the settings object is where defaults are decided)."""
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class InputBounds:
    """The limits every input is checked against at the edge.

    Attributes:
        max_json_depth: The deepest nesting of objects and arrays accepted
            (``KEEL_MAX_JSON_DEPTH``).
        max_body_bytes: The largest request body accepted, webhook or API
            (``KEEL_MAX_BODY_BYTES``); a webhook's own ``max_body_bytes`` may only lower it.
        max_runs_per_request: The most runs one request may start (``KEEL_MAX_RUNS_PER_REQUEST``;
            an NDJSON body with more lines is refused whole).
    """

    max_json_depth: int = _default("max_json_depth")
    max_body_bytes: int = _default("max_body_bytes")
    max_runs_per_request: int = _default("max_runs_per_request")

    @classmethod
    def from_settings(cls, settings: Settings) -> InputBounds:
        """Return the bounds the settings name."""
        return cls(
            max_json_depth=settings.max_json_depth,
            max_body_bytes=settings.max_body_bytes,
            max_runs_per_request=settings.max_runs_per_request,
        )

    def depth_problem(self, value: Any, what: str) -> str | None:
        """Return why ``value`` is too deep (naming ``what`` and the limit), or ``None``."""
        if not too_deep(value, self.max_json_depth):
            return None
        return (
            f"{what} is nested more than {self.max_json_depth} levels deep "
            "(the limit is KEEL_MAX_JSON_DEPTH)"
        )


def too_deep(value: Any, limit: int) -> bool:
    """Return whether objects and arrays in ``value`` nest more than ``limit`` levels.

    ``{}`` and ``[]`` are one level, ``{"a": [1]}`` two; scalars none. The walk keeps its own
    stack instead of recursing, so it cannot overflow on the values it exists to refuse.
    """
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list | tuple)
        )
    return False


#: The bounds of the settings' defaults, for callers that were given none.
DEFAULT_BOUNDS = InputBounds()
