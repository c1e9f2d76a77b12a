"""Schedule triggers: their settings, read from ``args``, and the Temporal Schedule they become.

Example ``args``::

    cron: "0 9 * * MON-FRI"        # or a list of them; or instead: every: 15m, offset: 2m
    timezone: Europe/Paris         # IANA name; default UTC
    start_at: 2025-01-01T00:00:00  # naive times are read in `timezone`
    end_at: 2025-12-31T23:59:59
    inputs: {region: eu}           # the TRIGGER of each run
    paused: false                  # Tracecat's `status: offline` means paused
    overlap: skip                  # or buffer_one|buffer_all|cancel_other|terminate_other|allow_all
    catchup_window: 5m             # default 5 minutes
    jitter: 30s
    pause_on_failure: false

Default catch-up window: **5 minutes** (Temporal's own default is a year). Missed times are those
Temporal could not act on (the Temporal server was down or the schedule was being updated); five
minutes rides out a restart, while a longer outage does not start a burst of stale runs on return.
Durations take the forms of :func:`keel.dsl.duration.parse_duration` (``15m``, ``1h30m``,
``30s``, ``1d``, ISO 8601 ``PT15M``, or a number of seconds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
)

from keel.dsl.duration import parse_duration
from keel.errors import TriggerError
from keel.triggers.args import load_args
from keel.triggers.cron import cron_problems

#: Default catch-up window (see the module docstring for why).
DEFAULT_CATCHUP_WINDOW = timedelta(minutes=5)
#: Temporal refuses catch-up windows shorter than this.
MIN_CATCHUP_WINDOW = timedelta(seconds=10)
#: Schedule ids longer than this are shortened with a hash.
_MAX_ID = 200

Overlap = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]

_OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}


def _duration(value: Any) -> Any:
    if value is None or isinstance(value, timedelta):
        return value
    seconds = parse_duration(value)
    if seconds is None:
        raise ValueError(
            f"'{value}' is not a duration (use e.g. 30s, 15m, 1h30m, 1d, PT15M or seconds)"
        )
    return timedelta(seconds=seconds)


def _cron_list(value: Any) -> Any:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class ScheduleSettings(BaseModel):
    """Settings of a schedule trigger (see the module docstring for an example).

    Attributes:
        cron: Cron expressions (5 fields, or ``@daily``-style shorthands); a run at each match.
        every: An interval; runs at every multiple of it since the Unix epoch, plus ``offset``.
        offset: Shift of the interval's runs (``every: 1h, offset: 15m`` runs at :15).
        timezone: The IANA time zone cron fields and naive start/end times are read in.
        start_at: No run before this time.
        end_at: No run after this time.
        inputs: The ``TRIGGER`` of each run.
        paused: Whether the schedule starts paused (Tracecat's ``status: offline``).
        status: Tracecat's ``online``/``offline``; sets ``paused`` when that is not given.
        overlap: What to do when a run is due while the previous one is still running.
        catchup_window: How late a missed run may still start.
        jitter: A random delay of up to this much before each run.
        pause_on_failure: Pause the schedule when a run fails.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    cron: Annotated[tuple[str, ...], BeforeValidator(_cron_list)] = ()
    every: Duration | None = None
    offset: Duration | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None
    inputs: Annotated[dict[str, Any], BeforeValidator(lambda v: {} if v is None else v)] = Field(
        default_factory=dict
    )
    paused: bool = False
    status: Annotated[Literal["online", "offline"] | None, BeforeValidator(_lower)] = None
    overlap: Annotated[Overlap, BeforeValidator(_lower)] = "skip"
    catchup_window: Duration = DEFAULT_CATCHUP_WINDOW
    jitter: Duration | None = None
    pause_on_failure: bool = False

    @model_validator(mode="before")
    @classmethod
    def _status_means_paused(cls, data: Any) -> Any:
        offline = isinstance(data, Mapping) and _lower(data.get("status")) == "offline"
        if offline and "paused" not in data:
            return {**data, "paused": True}
        return data

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        problems = [p for expression in value for p in cron_problems(expression)]
        if problems:
            raise ValueError("; ".join(problems))
        return tuple(expression.strip() for expression in value)

    @field_validator("timezone", mode="before")
    @classmethod
    def _check_timezone(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return "UTC"
        if not isinstance(value, str):
            return value
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone '{value}' (use an IANA name such as Europe/Paris or UTC)"
            ) from None
        return value.strip()

    @model_validator(mode="after")
    def _check_whole(self) -> ScheduleSettings:
        if self.cron and self.every is not None:
            raise ValueError("give either 'cron' or 'every', not both")
        if not self.cron and self.every is None:
            raise ValueError("a schedule needs 'cron' (e.g. '0 9 * * 1-5') or 'every' (e.g. 15m)")
        if self.every is not None and self.every < timedelta(seconds=1):
            raise ValueError("'every' must be at least 1 second")
        if self.offset is not None:
            if self.every is None:
                raise ValueError("'offset' applies only to 'every'")
            if self.offset >= self.every:
                raise ValueError("'offset' must be shorter than 'every'")
        if self.catchup_window < MIN_CATCHUP_WINDOW:
            raise ValueError("'catchup_window' must be at least 10 seconds")
        start, end = self.start, self.end
        if start is not None and end is not None and end <= start:
            raise ValueError("'end_at' must be after 'start_at'")
        return self

    @property
    def start(self) -> datetime | None:
        """Return ``start_at`` as an aware time (a naive one read in ``timezone``)."""
        return None if self.start_at is None else _aware(self.start_at, ZoneInfo(self.timezone))

    @property
    def end(self) -> datetime | None:
        """Return ``end_at`` as an aware time (a naive one read in ``timezone``)."""
        return None if self.end_at is None else _aware(self.end_at, ZoneInfo(self.timezone))


def load_schedule_settings(
    args: Mapping[str, Any] | None, ref: str | None = None
) -> tuple[ScheduleSettings, list[str]]:
    """Read a schedule trigger's ``args``.

    Returns:
        The settings, and one warning per unknown argument (which is ignored).

    Raises:
        TriggerError: An argument is invalid; every problem is listed, each naming its argument.
    """
    return load_args(ScheduleSettings, args, ref)


def to_spec(settings: ScheduleSettings) -> ScheduleSpec:
    """Return the Temporal schedule spec: when runs are due."""
    intervals = []
    if settings.every is not None:
        intervals.append(ScheduleIntervalSpec(every=settings.every, offset=settings.offset))
    return ScheduleSpec(
        cron_expressions=list(settings.cron),
        intervals=intervals,
        time_zone_name=settings.timezone,
        start_at=settings.start,
        end_at=settings.end,
        jitter=settings.jitter,
    )


def to_temporal(settings: ScheduleSettings, action: ScheduleActionStartWorkflow) -> Schedule:
    """Return the Temporal Schedule for a schedule trigger.

    Args:
        settings: The trigger's settings.
        action: The workflow start each due time makes; the caller builds it (workflow type, task
            queue, and ``settings.inputs`` as the run's trigger input).
    """
    return Schedule(
        action=action,
        spec=to_spec(settings),
        policy=SchedulePolicy(
            overlap=_OVERLAP[settings.overlap],
            catchup_window=settings.catchup_window,
            pause_on_failure=settings.pause_on_failure,
        ),
        state=ScheduleState(paused=settings.paused),
    )


def backfill(start: datetime, end: datetime, overlap: Overlap | None = None) -> ScheduleBackfill:
    """Return a backfill request: run every time the schedule was due in ``[start, end)``.

    Args:
        start: The start of the range; a naive time is read as UTC.
        end: The end of the range; a naive time is read as UTC.
        overlap: The overlap policy for the backfilled runs (default: the schedule's own).

    Raises:
        TriggerError: ``end`` is not after ``start``, or ``overlap`` is unknown.
    """
    start_at, end_at = _aware(start, UTC), _aware(end, UTC)
    if end_at <= start_at:
        raise TriggerError([f"backfill end {end_at.isoformat()} is not after its start"])
    if overlap is not None and overlap not in _OVERLAP:
        raise TriggerError([f"backfill overlap '{overlap}' is not one of {', '.join(_OVERLAP)}"])
    policy = None if overlap is None else _OVERLAP[overlap]
    return ScheduleBackfill(start_at=start_at, end_at=end_at, overlap=policy)


def schedule_id_for(workflow_id: str, trigger_ref: str) -> str:
    """Return the Temporal schedule id of a workflow's schedule trigger (deterministic).

    ``sched-<workflow_id>-<trigger_ref>``; an id past 200 characters keeps a prefix and a hash.
    """
    text = f"sched-{workflow_id}-{trigger_ref}"
    if len(text) <= _MAX_ID:
        return text
    digest = hashlib.sha256(f"{workflow_id}\n{trigger_ref}".encode()).hexdigest()[:32]
    return f"{text[: _MAX_ID - 33]}-{digest}"


def _aware(value: datetime, zone: tzinfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)
