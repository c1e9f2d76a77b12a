from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import (
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
)

from keel.errors import TriggerError
from keel.triggers.cron import cron_problems
from keel.triggers.schedule import (
    DEFAULT_CATCHUP_WINDOW,
    ScheduleSettings,
    backfill,
    load_schedule_settings,
    schedule_id_for,
    to_spec,
    to_temporal,
)


def _problems(args: dict[str, Any]) -> list[str]:
    with pytest.raises(TriggerError) as info:
        load_schedule_settings(args, ref="nightly")
    assert info.value.ref == "nightly"
    return info.value.problems


# --- cron -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "*/15 * * * *",
        "0 9 * * 1-5",
        "0 9 * * MON-FRI",
        "30 2 1,15 jan,Jul *",
        "0-30/5 0-23/2 1-31 1-12 0-6",
        "5 4 * * sun",
        "@daily",
        "@HOURLY",
        "  0 0 * * *  ",
    ],
)
def test_valid_cron(expression: str) -> None:
    assert cron_problems(expression) == []


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("* * * *", "has 4 field(s); expected 5"),
        ("0 0 0 * * *", "has 6 field(s)"),
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("* 24 * * *", "hour 24 is outside 0-23"),
        ("* * 0 * *", "day of month 0 is outside 1-31"),
        ("* * * 13 *", "month 13 is outside 1-12"),
        ("* * * * 7", "day of week 7 is outside 0-6 (0 = Sunday)"),
        ("* * * FOO *", "month 'FOO' is not a number in 1-12 or JAN-DEC"),
        ("* * * * MON-FOO", "day of week 'FOO' is not a number in 0-6 or SUN-SAT"),
        ("MON * * * *", "minute 'MON' is not a number in 0-59"),
        ("*/0 * * * *", "minute '*/0' has a step of 0"),
        ("30-10 * * * *", "minute range '30-10' runs backwards"),
        ("? * * * *", "minute '?' is not *, N, N-M or a list of them"),
        ("1,,2 * * * *", "minute '' is not *"),
        ("@reboot", "unknown shorthand @reboot"),
    ],
)
def test_invalid_cron(expression: str, problem: str) -> None:
    problems = cron_problems(expression)
    assert problems, expression
    assert problem in problems[0]
    assert problems[0].startswith(f"cron '{expression}'")


# --- settings ---------------------------------------------------------------------------------


def test_cron_settings_defaults() -> None:
    settings, warnings = load_schedule_settings({"cron": "0 9 * * 1-5"})
    assert warnings == []
    assert settings.cron == ("0 9 * * 1-5",)
    assert settings.every is None
    assert settings.timezone == "UTC"
    assert settings.overlap == "skip"
    assert settings.catchup_window == DEFAULT_CATCHUP_WINDOW == timedelta(minutes=5)
    assert settings.inputs == {}
    assert not settings.paused


def test_cron_list_and_every_forms() -> None:
    many, _ = load_schedule_settings({"cron": ["0 9 * * *", "@hourly"]})
    assert many.cron == ("0 9 * * *", "@hourly")
    for every, seconds in [
        ("15m", 900),
        ("1h30m", 5400),
        ("30s", 30),
        ("1d", 86400),
        ("PT2H", 7200),
        (60, 60),
    ]:
        settings, _ = load_schedule_settings({"every": every})
        assert settings.every == timedelta(seconds=seconds)


def test_all_options() -> None:
    settings, warnings = load_schedule_settings(
        {
            "every": "1h",
            "offset": "15m",
            "timezone": "Europe/Paris",
            "start_at": "2025-01-01T00:00:00",
            "end_at": "2025-12-31T23:00:00Z",
            "inputs": {"region": "eu"},
            "paused": True,
            "overlap": "BUFFER_ONE",
            "catchup_window": "1h",
            "jitter": "30s",
            "pause_on_failure": True,
        }
    )
    assert warnings == []
    assert settings.offset == timedelta(minutes=15)
    assert settings.start == datetime(2025, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))  # naive: tz
    assert settings.end == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert settings.overlap == "buffer_one"
    assert settings.jitter == timedelta(seconds=30)


def test_tracecat_status_offline_means_paused_and_unknown_args_warn() -> None:
    settings, warnings = load_schedule_settings(
        {"cron": "@daily", "status": "offline", "timeout": 30, "id": "sch-1"}
    )
    assert settings.paused
    assert warnings == [
        "args.timeout: unknown argument, ignored",
        "args.id: unknown argument, ignored",
    ]
    explicit, _ = load_schedule_settings({"cron": "@daily", "status": "offline", "paused": False})
    assert not explicit.paused
    online, _ = load_schedule_settings({"cron": "@daily", "status": "online"})
    assert not online.paused


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"cron": "@daily", "every": "1h"}, "args: give either 'cron' or 'every', not both"),
        ({}, "args: a schedule needs 'cron'"),
        ({"cron": None, "every": None, "inputs": {"a": 1}}, "args: a schedule needs 'cron'"),
        ({"cron": "61 * * * *"}, "args.cron: cron '61 * * * *': minute 61 is outside 0-59"),
        ({"every": "soon"}, "args.every: 'soon' is not a duration"),
        ({"every": "500ms"}, "args: 'every' must be at least 1 second"),
        ({"every": "1h", "offset": "1h"}, "args: 'offset' must be shorter than 'every'"),
        ({"cron": "@daily", "offset": "5m"}, "args: 'offset' applies only to 'every'"),
        (
            {"cron": "@daily", "timezone": "Mars/Olympus"},
            "args.timezone: unknown time zone 'Mars/Olympus'",
        ),
        ({"cron": "@daily", "timezone": "../etc/passwd"}, "args.timezone: unknown time zone"),
        ({"cron": "@daily", "start_at": "yesterday"}, "args.start_at:"),
        (
            {
                "cron": "@daily",
                "start_at": "2025-02-01T00:00:00Z",
                "end_at": "2025-01-01T00:00:00Z",
            },
            "args: 'end_at' must be after 'start_at'",
        ),
        ({"cron": "@daily", "overlap": "queue"}, "args.overlap:"),
        ({"cron": "@daily", "catchup_window": "1s"}, "args: 'catchup_window' must be at least 10"),
    ],
)
def test_invalid_settings(args: dict[str, Any], expected: str) -> None:
    problems = _problems(args)
    assert any(p.startswith(expected) for p in problems), problems


def test_empty_timezone_is_utc() -> None:
    settings, _ = load_schedule_settings({"cron": "@daily", "timezone": ""})
    assert settings.timezone == "UTC"


# --- Temporal objects -------------------------------------------------------------------------


def _action(inputs: dict[str, Any]) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow("KeelWorkflow", inputs, id="wf1-run", task_queue="keel")


def test_to_temporal_cron() -> None:
    settings, _ = load_schedule_settings(
        {
            "cron": ["0 9 * * MON-FRI"],
            "timezone": "America/New_York",
            "start_at": "2025-03-01T08:00:00",
            "end_at": "2026-03-01T00:00:00+00:00",
            "overlap": "cancel_other",
            "catchup_window": "2m",
            "paused": True,
            "pause_on_failure": True,
            "jitter": "10s",
            "inputs": {"a": 1},
        }
    )
    action = _action(settings.inputs)
    schedule = to_temporal(settings, action)
    assert schedule.action is action
    spec = schedule.spec
    assert list(spec.cron_expressions) == ["0 9 * * MON-FRI"]
    assert list(spec.intervals) == []
    assert spec.time_zone_name == "America/New_York"
    assert spec.start_at == datetime(2025, 3, 1, 8, tzinfo=ZoneInfo("America/New_York"))
    assert spec.end_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert spec.jitter == timedelta(seconds=10)
    assert schedule.policy.overlap == ScheduleOverlapPolicy.CANCEL_OTHER
    assert schedule.policy.catchup_window == timedelta(minutes=2)
    assert schedule.policy.pause_on_failure
    assert schedule.state.paused


@pytest.mark.parametrize(
    ("overlap", "policy"),
    [
        ("skip", ScheduleOverlapPolicy.SKIP),
        ("buffer_one", ScheduleOverlapPolicy.BUFFER_ONE),
        ("buffer_all", ScheduleOverlapPolicy.BUFFER_ALL),
        ("cancel_other", ScheduleOverlapPolicy.CANCEL_OTHER),
        ("terminate_other", ScheduleOverlapPolicy.TERMINATE_OTHER),
        ("allow_all", ScheduleOverlapPolicy.ALLOW_ALL),
    ],
)
def test_to_temporal_interval_and_overlaps(overlap: str, policy: ScheduleOverlapPolicy) -> None:
    settings = ScheduleSettings.model_validate({"every": "1h", "offset": "15m", "overlap": overlap})
    schedule = to_temporal(settings, _action({}))
    assert list(schedule.spec.intervals) == [
        ScheduleIntervalSpec(every=timedelta(hours=1), offset=timedelta(minutes=15))
    ]
    assert list(schedule.spec.cron_expressions) == []
    assert schedule.spec.time_zone_name == "UTC"
    assert schedule.spec.start_at is None and schedule.spec.end_at is None
    assert schedule.policy.overlap == policy
    assert schedule.policy.catchup_window == DEFAULT_CATCHUP_WINDOW
    assert not schedule.state.paused


def test_spec_converts_to_temporal_protobuf() -> None:
    # Temporal's own conversion accepts what we build (no server needed).
    settings = ScheduleSettings.model_validate(
        {"cron": "*/5 * * * *", "timezone": "Asia/Tokyo", "start_at": "2025-01-01T00:00:00"}
    )
    proto = to_spec(settings)._to_proto()
    assert list(proto.cron_string) == ["*/5 * * * *"]
    assert proto.timezone_name == "Asia/Tokyo"
    assert proto.start_time.ToDatetime(tzinfo=UTC) == datetime(2024, 12, 31, 15, tzinfo=UTC)


def test_backfill() -> None:
    result = backfill(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC), "allow_all")
    assert result.start_at == datetime(2025, 1, 1, tzinfo=UTC)  # naive is UTC
    assert result.end_at == datetime(2025, 1, 2, tzinfo=UTC)
    assert result.overlap == ScheduleOverlapPolicy.ALLOW_ALL
    assert backfill(datetime(2025, 1, 1), datetime(2025, 1, 2)).overlap is None
    with pytest.raises(TriggerError, match="is not after its start"):
        backfill(datetime(2025, 1, 2), datetime(2025, 1, 1))
    with pytest.raises(TriggerError, match="overlap 'queue'"):
        backfill(datetime(2025, 1, 1), datetime(2025, 1, 2), "queue")  # type: ignore[arg-type]


def test_schedule_id_for() -> None:
    assert schedule_id_for("wf1", "nightly") == "sched-wf1-nightly"
    assert schedule_id_for("wf1", "nightly") == schedule_id_for("wf1", "nightly")
    long = schedule_id_for("w" * 500, "nightly")
    assert len(long) == 200
    assert long != schedule_id_for("w" * 499, "nightly")
