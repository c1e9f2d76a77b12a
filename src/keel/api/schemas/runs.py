"""Bodies of the run endpoints (``/workflows/{id}/runs``, ``/runs``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from keel.api.schemas import MAX_STORED_INT
from keel.dsl.diagram import Diagram
from keel.store.tables import RunRow


class RunIn(BaseModel):
    """A request to start a run."""

    model_config = ConfigDict(extra="forbid")

    inputs: Any = Field(
        default_factory=dict, description="The trigger input, checked against entrypoint.expects."
    )
    version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_STORED_INT,
        description="The committed version to run; the latest when null.",
    )
    draft: bool = Field(default=False, description="Run the draft instead (if it validates).")
    environment: str | None = Field(
        default=None, description="Overrides config.environment (secrets and VARS) for this run."
    )


class RunStarted(BaseModel):
    """A run that was started."""

    execution_id: str
    workflow_id: str | None = None
    version: int | None = Field(default=None, description="The version run; null for a draft.")


class RunSummary(BaseModel):
    """A run in a listing (from the store, status refreshed from Temporal)."""

    execution_id: str
    workflow_id: str | None
    version: int | None
    trigger_type: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    error: str | None
    parent_execution_id: str | None = None
    parent_action: str | None = None

    @classmethod
    def of(cls, row: RunRow) -> RunSummary:
        """Return the HTTP view of a run's summary row."""
        return cls(
            execution_id=row.execution_id,
            workflow_id=row.workflow_id,
            version=row.version,
            trigger_type=row.trigger_type,
            status=row.status,
            started_at=row.started_at,
            ended_at=row.ended_at,
            error=row.error,
            parent_execution_id=row.parent_execution_id,
            parent_action=row.parent_action,
        )


class RunPageOut(BaseModel):
    """One page of runs, newest first."""

    items: list[RunSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end.")


class DagNodeOut(BaseModel):
    """One action of a DAG."""

    ref: str
    action: str
    for_each: str | None = None
    run_if: str | None = None
    join_strategy: str = "all"
    root: bool = False


class DagEdgeOut(BaseModel):
    """One dependency of a DAG: ``target`` runs after ``source`` ends with ``kind``."""

    source: str
    target: str
    kind: str = Field(description="success or error.")
    condition: str | None = Field(default=None, description="The target's run_if, if any.")
    label: str = Field(description="The caption to draw: the kind, and run_if if guarded.")


class DagOut(BaseModel):
    """A workflow's DAG: actions in document order and their dependencies."""

    nodes: list[DagNodeOut] = Field(default_factory=list)
    edges: list[DagEdgeOut] = Field(default_factory=list)

    @classmethod
    def of(cls, diagram: Diagram) -> DagOut:
        """Return the HTTP view of a diagram."""
        return cls.model_validate(diagram.as_json())


class StreamOut(BaseModel):
    """One item (of a scatter) or pass (of a loop) of an action inside a region."""

    stream: str = Field(description="'scatter_ref[2]' for item 2, 'loop_ref#3' for pass 3.")
    status: str
    attempts: int
    started_at: str | None
    ended_at: str | None
    result: Any = Field(description="Its result in that stream; '***' with mask_output.")
    error: str | None
    events: list[str]


class ActionDetailOut(BaseModel):
    """One action of a run."""

    ref: str
    action: str
    status: str
    attempts: int
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    result: Any = Field(description="The result; '***' for actions with mask_output.")
    error: str | None
    events: list[str]
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="The arguments as written in the definition (templates; secrets unresolved).",
    )
    for_each: bool = Field(
        default=False,
        description="Whether it runs once per item (see /runs/{id}/actions/{ref}/items).",
    )
    streams: list[StreamOut] = Field(
        default_factory=list,
        description="Inside a scatter or loop region: one entry per item or pass.",
    )


class ChildRunOut(BaseModel):
    """A child run, as its parent's detail lists it."""

    execution_id: str
    action: str
    status: str


class RunDetailOut(BaseModel):
    """A run with each of its actions and its lineage."""

    execution_id: str
    workflow_id: str | None
    version: int | None
    title: str
    trigger_type: str | None
    status: str
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    error: str | None
    actions: list[ActionDetailOut]
    parent: str | None = Field(default=None, description="The parent run of a child run.")
    parent_action: str | None = Field(
        default=None, description="The parent's action that started it."
    )
    children: list[str] = Field(default_factory=list, description="Child runs it started.")
    child_runs: list[ChildRunOut] = Field(
        default_factory=list, description="Child runs it started, with the action and status."
    )
    input: Any = Field(default=None, description="The run's input (TRIGGER).")
    result: Any = Field(
        default=None,
        description="The run's result (its `returns`) once it succeeded; '***' when it reads "
        "an action with mask_output.",
    )
    definition: dict[str, Any] = Field(
        default_factory=dict, description="The definition the run ran (validated JSON)."
    )
    dag: DagOut = Field(default_factory=DagOut, description="The DAG of that definition.")
    notice: str | None = Field(
        default=None,
        description="Why the actions' states are missing, when the worker running the run did "
        "not answer in time (busy, or none is polling its task queue).",
    )


ItemStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class ItemOut(BaseModel):
    """One item of a ``for_each`` action."""

    index: int
    status: str
    input: Any = Field(
        description="The item's loop variables ('***' if read from a masked result)."
    )
    attempts: int
    started_at: str | None
    ended_at: str | None
    duration_ms: float | None
    result: Any = Field(description="Its result; '***' for an action with mask_output.")
    error: str | None


class ItemPageOut(BaseModel):
    """One page of a ``for_each`` action's items, in item order."""

    ref: str
    total: int = Field(description="How many items match the status filter.")
    counts: dict[str, int] = Field(description="How many items are in each status (all items).")
    offset: int
    items: list[ItemOut]
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null at end.")


class TimelineEventOut(BaseModel):
    """One event of a run's timeline."""

    time: str
    kind: str
    detail: str


class RunActionOut(BaseModel):
    """The answer to cancel, terminate and rerun."""

    execution_id: str
    status: str
    rerun_of: str | None = None
