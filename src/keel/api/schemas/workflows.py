"""Bodies of the workflow endpoints (``/workflows``): drafts, commits and versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: What an alias may look like: URL-safe, so ``/workflows/{alias}`` needs no escaping.
ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$"


class WorkflowIn(BaseModel):
    """A new workflow sent as JSON (YAML may be sent as ``text/yaml`` instead)."""

    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(description="The workflow document (YAML or JSON text); may be invalid.")
    alias: str | None = Field(
        default=None, pattern=ALIAS_PATTERN, description="A unique name to find it by."
    )


class DraftIn(BaseModel):
    """A replacement draft sent as JSON (YAML may be sent as ``text/yaml`` instead)."""

    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(description="The workflow document (YAML or JSON text); may be invalid.")


class WorkflowSummary(BaseModel):
    """A workflow in a listing."""

    id: str
    alias: str | None
    title: str
    description: str
    latest_version: int | None = Field(description="The newest committed version, if any.")
    created_at: datetime
    updated_at: datetime


class WorkflowOut(WorkflowSummary):
    """A workflow with its draft and its webhook."""

    draft: str = Field(description="The draft document as it was last saved.")
    draft_updated_at: datetime
    webhook_url: str | None = Field(
        default=None,
        description="Always null here: the webhook's secret URL is shown once, in the answer of "
        "the commit that made it or of POST /workflows/{ref}/webhook/rotate (the store keeps "
        "only its digest).",
    )


class ProblemOut(BaseModel):
    """One problem of a document, with its location."""

    message: str
    file: str | None = None
    line: int | None = None
    ref: str | None = None
    field: str | None = None
    expression: str | None = None
    severity: str = "error"


class CommitOut(BaseModel):
    """A committed version."""

    id: str = Field(description="The workflow's id.")
    alias: str | None
    version: int
    committed_at: datetime
    webhook_url: str | None = Field(
        default=None,
        description="The webhook's secret URL when this commit made it (the first commit); "
        "null afterwards, as only its digest is kept.",
    )
    warnings: list[ProblemOut] = Field(
        default_factory=list, description="Problems that did not block the commit."
    )
    unchanged: bool = Field(
        default=False,
        description="Apply only: the document was already the latest version, so no version "
        "was added (version is that one).",
    )


class WebhookOut(BaseModel):
    """A webhook's new secret URL, shown this once."""

    workflow_id: str
    webhook_url: str = Field(description="The new URL; the old one stopped working.")


class VersionSummary(BaseModel):
    """A committed version in a listing."""

    workflow_id: str
    version: int
    committed_at: datetime


class VersionOut(VersionSummary):
    """A committed version with its document and validated definition."""

    yaml: str
    definition: dict[str, Any]
