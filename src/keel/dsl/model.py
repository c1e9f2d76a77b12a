"""The typed model of a workflow document (a superset of Tracecat's ``DSLInput``).

The models check the *shape* of a document: required fields, types, the ``ref``/``action`` patterns,
and unknown keys inside an action. Rules that need the whole document (the graph, expressions, the
action registry) live in :mod:`keel.dsl.graph` and :mod:`keel.dsl.validation`.

Every model is frozen. Unknown top-level keys (and unknown keys of ``config``, ``entrypoint`` and
triggers) are ignored so that Tracecat documents and newer or older Keel documents load; unknown
keys of an action, its retry policy or an ``expects`` field are errors, because there they are
almost always typos.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

#: Pattern of an action ``ref`` (and of a trigger ``ref``).
REF_PATTERN = r"^[a-z0-9_]+$"
#: Longest ``ref``. Refs become parts of Temporal ids (activities, child runs), which Temporal
#: caps at 1,000 characters; an id over it is refused as a bad command and the run hangs.
MAX_REF_LENGTH = 128
#: Pattern of a dotted action name.
ACTION_PATTERN = r"^[a-z0-9_.]+$"

JoinStrategy = Literal["all", "any"]


def _empty_as(factory: Callable[[], Any]) -> BeforeValidator:
    """Return a validator reading an empty YAML value (``args:`` alone) as ``factory()``."""

    def convert(value: Any) -> Any:
        return factory() if value is None else value

    return BeforeValidator(convert)


# Containers that may be written empty (`args:`), which YAML reads as null.
_EmptyDict = _empty_as(dict)
_EmptyList = _empty_as(list)
_EmptyStr = _empty_as(str)


class _Model(BaseModel):
    """Base of the document models: frozen, and unknown keys ignored unless a model says so."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ExpectedField(_Model):
    """One field of ``entrypoint.expects``: the schema of a trigger input field.

    ``default`` is ``None`` both when no default is given and when ``default: null`` is written;
    :attr:`has_default` tells them apart (a field with ``default: null`` may be missing).

    Attributes:
        type: A type in the ``expects`` type language (see :mod:`keel.dsl.typespec`).
        description: What the field is for.
        default: The value used when the field is missing.
        optional: Whether the field may be missing even without a default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = "any"
    description: str | None = None
    default: Any = None
    optional: bool = False

    @property
    def has_default(self) -> bool:
        """Return whether a default was given (``default: null`` counts)."""
        return "default" in self.model_fields_set

    @property
    def required(self) -> bool:
        """Return whether the field must be present in the trigger input."""
        return not (self.optional or self.has_default)

    @model_serializer(mode="wrap")
    def _keep_null_default(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        # `model_dump(exclude_none=True)` (how a definition travels to Temporal) would drop an
        # explicit `default: null` and so make the field required; keep it.
        data = handler(self)
        if isinstance(data, dict) and self.has_default and "default" not in data:
            data["default"] = None
        return data


class Entrypoint(_Model):
    """Where a run starts and what input it expects.

    Attributes:
        ref: The ref of the single root action, when given.
        expects: The schema of the trigger input, by field name.
    """

    ref: str | None = None
    expects: Annotated[dict[str, ExpectedField], _EmptyDict] = Field(default_factory=dict)


class Trigger(_Model):
    """A webhook or schedule that starts runs of the workflow (applied on commit).

    Other keys (Tracecat's ``id`` and ``entrypoint``) are ignored.

    Attributes:
        type: ``webhook`` or ``schedule``.
        ref: A name for the trigger, unique in the workflow.
        args: Trigger-specific settings (``cron``/``every`` for schedules, options for webhooks).
    """

    type: Literal["webhook", "schedule"]
    ref: str = Field(pattern=REF_PATTERN, max_length=MAX_REF_LENGTH)
    args: Annotated[dict[str, Any], _EmptyDict] = Field(default_factory=dict)


class RunConfig(_Model):
    """Settings of the whole run (the document's ``config``); unknown keys are ignored.

    Attributes:
        environment: The secrets environment; may be an expression.
        strict_expressions: Whether a path that matches nothing is an error rather than ``None``.
        timeout: Whole-run timeout in seconds; 0 means none.
        scheduler: Accepted for Tracecat compatibility and ignored.
    """

    environment: str = "default"
    strict_expressions: bool = False
    timeout: float = Field(default=0, ge=0)
    scheduler: str | None = None


class Backoff(_Model):
    """How long to wait between attempts: ``min(initial * coefficient**(n - 1), maximum)`` seconds.

    Attributes:
        initial: Wait after the first failed attempt, in seconds.
        coefficient: Factor applied to the wait after each further attempt.
        maximum: Longest wait, in seconds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial: float = Field(default=1, ge=0)
    coefficient: float = Field(default=2, ge=1)
    maximum: float = Field(default=60, ge=0)

    def delay(self, attempt: int) -> float:
        """Return the seconds to wait after failed attempt number ``attempt`` (1-based)."""
        try:
            grown = self.initial * self.coefficient ** (attempt - 1)
        except OverflowError:  # a huge coefficient after many attempts: the cap applies
            return self.maximum
        return min(grown, self.maximum)


class RetryPolicy(_Model):
    """How an action is retried.

    Attributes:
        max_attempts: Total attempts; 1 means no retry and 0 means unlimited.
        timeout: Seconds allowed per attempt.
        retry_until: An expression; a successful attempt is re-run until it holds.
        backoff: Waits between attempts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=1, ge=0)
    timeout: float = Field(default=300, gt=0)
    retry_until: str | None = None
    backoff: Annotated[Backoff, _EmptyDict] = Field(default_factory=Backoff)


class ActionStatement(_Model):
    """One action of a workflow: what to call, with which arguments, after which actions.

    Unknown keys are errors. Tracecat's ``id`` (a database id) and ``title`` are accepted so that
    Tracecat documents load unchanged; neither has any effect.

    Attributes:
        ref: Name of the action in this workflow (``^[a-z0-9_]+$``, unique).
        action: Dotted name of the registered action to call.
        description: What this step does.
        args: Keyword arguments of the action; expressions are allowed anywhere inside.
        depends_on: Incoming edges: ``ref`` or ``ref.success`` (after success), ``ref.error``.
        run_if: An expression; the action is skipped when it is falsy.
        for_each: One ``for var.x in <expr>`` iterator, or several that are zipped.
        retry_policy: Attempts, per-attempt timeout and backoff.
        start_delay: Seconds to wait before starting.
        wait_until: An absolute time (or an expression) to wait for before starting.
        join_strategy: With several incoming edges, whether ``all`` or ``any`` must be taken.
        environment: Secrets environment for this action (may be an expression).
        mask_output: Whether the result is redacted in APIs and logs.
        interaction: Tracecat's interaction settings (kept, not used yet).
        id: Tracecat's database id; ignored and not serialized.
        title: A display title (Tracecat); ignored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str = Field(pattern=REF_PATTERN, max_length=MAX_REF_LENGTH)
    action: str = Field(pattern=ACTION_PATTERN)
    description: Annotated[str, _EmptyStr] = ""
    args: Annotated[dict[str, Any], _EmptyDict] = Field(default_factory=dict)
    depends_on: Annotated[list[str], _EmptyList] = Field(default_factory=list)
    run_if: str | None = None
    for_each: str | list[str] | None = None
    retry_policy: Annotated[RetryPolicy, _EmptyDict] = Field(default_factory=RetryPolicy)
    start_delay: float = Field(default=0, ge=0)
    wait_until: str | None = None
    join_strategy: JoinStrategy = "all"
    environment: str | None = None
    mask_output: bool = False
    interaction: dict[str, Any] | None = None
    id: Any = Field(default=None, exclude=True)
    title: str | None = None

    @field_validator("for_each", mode="before")
    @classmethod
    def _check_for_each(cls, value: Any) -> Any:
        # Checked here so that a bad value gives one clear message instead of one per union member.
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return value
        if isinstance(value, list) and not value:
            raise ValueError("must list at least one iterator")
        raise ValueError(
            "must be an iterator expression such as '${{ for var.x in ... }}', or a list of them"
        )


class Workflow(_Model):
    """A whole workflow document.

    Tracecat exports may wrap the definition as ``{definition: {...}, layout: ..., webhook: ...}``;
    when the top level has no ``actions`` but its ``definition`` mapping does, the inner mapping is
    the document (:func:`keel.dsl.loader.load_workflow` does the same and keeps line numbers).

    Attributes:
        title: A short name for the workflow.
        description: What it does (may be empty).
        entrypoint: The root action's ref and the trigger input schema.
        triggers: Webhooks and schedules to apply on commit.
        config: Run settings.
        actions: The actions, at least one.
        returns: The run's result (expressions allowed); without it, the whole context.
        error_handler: Alias of a workflow to run when a run of this one fails.
        inputs: Tracecat's static inputs, kept as given.
    """

    title: str
    description: Annotated[str, _EmptyStr]
    entrypoint: Annotated[Entrypoint, _EmptyDict] = Field(default_factory=Entrypoint)
    triggers: Annotated[list[Trigger], _EmptyList] = Field(default_factory=list)
    config: Annotated[RunConfig, _EmptyDict] = Field(default_factory=RunConfig)
    actions: list[ActionStatement] = Field(min_length=1)
    returns: Any = None
    error_handler: str | None = None
    inputs: Annotated[dict[str, Any], _EmptyDict] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap_export(cls, data: Any) -> Any:
        return unwrap_definition(data)

    def action(self, ref: str) -> ActionStatement | None:
        """Return the first action named ``ref``, or ``None``."""
        return next((a for a in self.actions if a.ref == ref), None)


def unwrap_definition(data: Any) -> Any:
    """Return the inner ``definition`` of a wrapped Tracecat export, else ``data`` itself."""
    if isinstance(data, dict) and "actions" not in data:
        inner = data.get("definition")
        if isinstance(inner, dict) and "actions" in inner:
            return inner
    return data
