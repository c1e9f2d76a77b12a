"""Bodies of the schedule endpoints (``/schedules``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from keel.store.tables import ScheduleRow

Overlap = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]


class ScheduleOut(BaseModel):
    """A schedule trigger of a committed workflow."""

    id: str = Field(description="Keel's id of the schedule (sch_...).")
    temporal_id: str = Field(description="The Temporal Schedule id (sched-<workflow>-<ref>).")
    workflow_id: str
    ref: str = Field(description="The schedule trigger's ref in the workflow.")
    version: int | None = Field(description="The committed version its runs use.")
    args: dict[str, Any] = Field(description="The trigger's args (cron/every, timezone...).")
    inputs: dict[str, Any] = Field(description="The TRIGGER of each run.")
    paused: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ScheduleRow) -> ScheduleOut:
        """Return the schedule of a store row."""
        spec = row.spec or {}
        version = spec.get("version")
        return cls(
            id=row.id,
            temporal_id=str(spec.get("temporal_id", row.id)),
            workflow_id=row.workflow_id,
            ref=str(spec.get("ref", "")),
            version=version if isinstance(version, int) else None,
            args=dict(spec.get("args") or {}),
            inputs=dict(row.inputs or {}),
            paused=row.paused,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ScheduledRunOut(BaseModel):
    """A run a schedule started."""

    execution_id: str
    scheduled_at: datetime
    started_at: datetime


class ScheduleDetailOut(ScheduleOut):
    """A schedule with what Temporal says about it."""

    note: str | None = Field(default=None, description="Why it was paused, when it was.")
    runs_started: int = Field(default=0, description="How many runs it has started.")
    next_runs: list[datetime] = Field(default_factory=list, description="The next due times.")
    recent_runs: list[ScheduledRunOut] = Field(default_factory=list)


class PauseIn(BaseModel):
    """Why a schedule is paused or resumed (shown in Temporal)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000)


class TriggerIn(BaseModel):
    """A run-now request."""

    model_config = ConfigDict(extra="forbid")

    overlap: Overlap = Field(
        default="allow_all", description="What to do if a run of the schedule is still running."
    )


class BackfillIn(BaseModel):
    """Run every time the schedule was due in ``[start, end)``."""

    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="Start of the range (ISO time; UTC when no zone).")
    end: datetime = Field(description="End of the range, exclusive.")
    overlap: Overlap = Field(
        default="buffer_all",
        description="How the backfilled runs overlap (default: one after another, none skipped).",
    )


class ScheduleAccepted(BaseModel):
    """A schedule action Temporal accepted (its runs start shortly)."""

    id: str
    temporal_id: str
    status: Literal["triggered", "backfilling"]


class SchedulePatch(BaseModel):
    """Changes to a schedule's args; ``null`` removes an arg. Validated like a commit's args.

    Setting ``cron`` drops ``every``/``offset`` and setting ``every`` drops ``cron``. The next
    commit of the workflow applies the document's args again.
    """

    model_config = ConfigDict(extra="forbid")

    cron: str | list[str] | None = None
    every: str | float | None = None
    offset: str | float | None = None
    timezone: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    inputs: dict[str, Any] | None = None
    overlap: Overlap | None = None
    catchup_window: str | float | None = None
    jitter: str | float | None = None
    pause_on_failure: bool | None = None
