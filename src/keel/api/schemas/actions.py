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
    title: str = Field(default="", description="A short human title (may be empty).")
    display_group: str = Field(default="", description="The group it is listed under.")
    kind: str = Field(default="python", description="python (a function) or template (YAML).")
    secrets: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Secrets it declares: {name, keys, optional_keys, optional} (never values).",
    )

    @classmethod
    def of(cls, spec: ActionSpec) -> ActionOut:
        """Return the HTTP view of ``spec``."""
        return cls(
            name=spec.name,
            description=spec.description,
            args_schema=spec.args_schema(),
            title=spec.title,
            display_group=spec.display_group,
            kind=spec.kind,
            secrets=[s.to_dict() for s in spec.secrets],
        )
