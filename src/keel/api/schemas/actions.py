"""Bodies of the action registry endpoints (``/actions``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from keel.actions.registry import ActionSpec


class ActionOut(BaseModel):
    """One registered action: what it does and the JSON schema of its arguments."""

    name: str = Field(description="The dotted action name, e.g. core.http_request.")
    description: str
    args_schema: dict[str, Any] = Field(description="JSON Schema of the action's arguments.")

    @classmethod
    def of(cls, spec: ActionSpec) -> ActionOut:
        """Return the HTTP view of ``spec``."""
        return cls(name=spec.name, description=spec.description, args_schema=spec.args_schema())
