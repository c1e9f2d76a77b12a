"""Bodies of the webhook endpoints (``/webhooks/{workflow_id}/{secret}`` and its ``/wait`` form)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class WebhookStarted(BaseModel):
    """A delivery that started one run (or named the run an earlier delivery started)."""

    execution_id: str = Field(description="The run's id; poll GET /runs/{execution_id}.")


class WebhookBatchStarted(BaseModel):
    """An NDJSON delivery: one run per line, in body order."""

    execution_ids: list[str]


class WebhookRunResult(BaseModel):
    """How a run ended (the ``/wait`` form)."""

    execution_id: str
    status: str = Field(
        description="succeeded, failed, cancelled, terminated or timed_out (of the run)."
    )
    result: Any = Field(default=None, description="The run's result when it succeeded.")
    error: str | None = Field(default=None, description="The failure message otherwise.")


class WebhookBatchResult(BaseModel):
    """How the runs of an NDJSON delivery ended (the ``/wait`` form), in body order."""

    runs: list[WebhookRunResult]
