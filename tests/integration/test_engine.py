"""The execution semantics of the spec, run for real: Temporal dev server + in-process executor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from keel.execution.local import LocalExecutor
from keel.orchestration.action_runner import ActionRunner
from keel.orchestration.client import RunFailedError, wait_result
from keel.orchestration.secrets import FileSecrets
from keel.orchestration.worker import build_worker
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(temporal_client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Engine]:
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(
        "default: {intel: {api_key: s3cr3t-value}}\nstaging: {intel: {api_key: stg}}\n"
    )
    worker = build_worker(temporal_client, task_queue, LocalExecutor(), FileSecrets(secrets))
    async with worker:
        yield Engine(temporal_client, task_queue)


def doc(actions: str, extra: str = "") -> str:
    return f"title: t\ndescription: d\n{extra}\nactions:\n{actions}"


async def test_chain_passes_typed_results_and_returns(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: a
    action: core.transform.reshape
    args: {value: {n: "${{ TRIGGER.n }}", tags: [x, y]}}
  - ref: b
    action: core.transform.reshape
    depends_on: [a]
    args: {value: "${{ ACTIONS.a.result.n * 2 }}"}
""",
            "returns: {doubled: '${{ ACTIONS.b.result }}', typename: '${{ ACTIONS.b.result_typename }}', tags: '${{ ACTIONS.a.result.tags }}'}",
        ),
        {"n": 21},
    )
    assert result == {"doubled": 42, "typename": "int", "tags": ["x", "y"]}


async def test_without_returns_the_result_is_the_context(engine: Engine) -> None:
    result = await engine.run(
        doc("  - ref: a\n    action: core.transform.reshape\n    args: {value: 1}\n"), {"k": "v"}
    )
    assert result == {
        "ACTIONS": {"a": {"result": 1, "result_typename": "int"}},
        "TRIGGER": {"k": "v"},
    }


async def test_activity_actions_and_for_each_keep_input_order(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: nums
    action: core.transform.reshape
    args: {value: [3, 1, 2]}
  - ref: squares
    action: core.transform.apply
    depends_on: [nums]
    for_each: ${{ for var.n in ACTIONS.nums.result }}
    args: {value: "${{ var.n }}", python_lambda: "lambda x: x * x"}
""",
            "returns: ${{ ACTIONS.squares.result }}",
        )
    )
    assert result == [9, 1, 4]


async def test_run_if_false_skips_and_skips_propagate(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: a
    action: core.transform.reshape
    args: {value: 1}
  - ref: b
    action: core.transform.reshape
    depends_on: [a]
    run_if: ${{ ACTIONS.a.result > 5 }}
    args: {value: 2}
  - ref: c
    action: core.transform.reshape
    depends_on: [b]
    args: {value: 3}
"""
        )
    )
    assert set(result["ACTIONS"]) == {"a"}


async def test_join_all_with_a_skipped_branch_fails_naming_it(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            doc(
                """
  - ref: a
    action: core.transform.reshape
    args: {value: 1}
  - ref: b
    action: core.transform.reshape
    depends_on: [a]
    run_if: ${{ False }}
    args: {value: 2}
  - ref: c
    action: core.transform.reshape
    depends_on: [a]
    args: {value: 3}
  - ref: d
    action: core.transform.reshape
    depends_on: [b, c]
    args: {value: 4}
"""
            )
        )
    message = str(info.value)
    assert "'d'" in message and "'b' was skipped" in message and "join_strategy: any" in message


async def test_join_any_runs_after_one_success(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: a
    action: core.transform.reshape
    args: {value: 1}
  - ref: b
    action: core.transform.reshape
    depends_on: [a]
    run_if: ${{ False }}
    args: {value: 2}
  - ref: c
    action: core.transform.reshape
    depends_on: [a]
    args: {value: 3}
  - ref: d
    action: core.transform.reshape
    depends_on: [b, c]
    join_strategy: any
    args: {value: "${{ ACTIONS.c.result + 1 }}"}
""",
            "returns: ${{ ACTIONS.d.result }}",
        )
    )
    assert result == 4


FAILING = """
  - ref: a
    action: core.transform.apply
    retry_policy: {max_attempts: 3, backoff: {initial: 0.01, maximum: 0.01}}
    args: {value: {}, python_lambda: "lambda x: x['missing']"}
"""


async def test_a_failure_without_error_path_fails_the_run_with_attempts_and_cause(
    engine: Engine,
) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(doc(FAILING))
    message = str(info.value)
    assert "action 'a' failed after 3 attempt(s)" in message
    assert "missing" in message


async def test_error_path_runs_with_the_error_in_context(engine: Engine) -> None:
    result = await engine.run(
        doc(
            FAILING
            + """
  - ref: ok
    action: core.transform.reshape
    depends_on: [a]
    args: {value: never}
  - ref: handler
    action: core.transform.reshape
    depends_on: [a.error]
    args: {value: "${{ ACTIONS.a.error }}"}
""",
            "returns: ${{ ACTIONS.handler.result }}",
        )
    )
    assert result["ref"] == "a"
    assert result["attempts"] == 3
    assert "missing" in result["message"]


async def test_retry_until_reruns_until_the_condition_holds(engine: Engine) -> None:
    # The value changes per attempt only through ENV-free data, so drive it with a lambda that
    # cannot succeed: retry_until stays false and the run fails after max_attempts.
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            doc(
                """
  - ref: a
    action: core.transform.apply
    retry_policy:
      max_attempts: 2
      backoff: {initial: 0.01}
      retry_until: ${{ ACTIONS.a.result == 'done' }}
    args: {value: pending, python_lambda: "lambda x: x"}
"""
            )
        )
    assert "retry_until was still false after 2 attempt(s)" in str(info.value)


async def test_expression_error_is_an_action_failure_naming_the_expression(
    engine: Engine,
) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            doc(
                "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ int(None) }}'}\n"
            )
        )
    assert "action 'a' failed" in str(info.value)
    assert "int(None)" in str(info.value)


async def test_strict_expressions_turn_a_miss_into_an_error(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            doc(
                "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ TRIGGER.user.name }}'}\n",
                "config: {strict_expressions: true}",
            ),
            {"user": {}},
        )
    assert "TRIGGER.user" in str(info.value)


async def test_a_miss_is_none_and_a_warning_in_the_actions_events(engine: Engine) -> None:
    run = await engine.start(
        doc(
            "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ TRIGGER.nope }}'}\n"
        ),
        {},
    )

    result = await wait_result(run)
    assert result["ACTIONS"]["a"]["result"] is None
    state = await engine.progress(run)
    (action,) = state.actions
    assert action.status == "succeeded"
    assert any("TRIGGER.nope" in e.message for e in action.events)


async def test_env_context_and_environment(engine: Engine) -> None:
    result = await engine.run(
        doc(
            "  - ref: a\n    action: core.transform.reshape\n    args: {value: '${{ ENV }}'}\n",
            "config: {environment: staging}\nreturns: ${{ ACTIONS.a.result }}",
        )
    )
    assert result["environment"] == "staging"
    assert result["workflow"]["execution_id"].startswith("run-")
    assert result["workflow"]["start_time"]


async def test_secrets_resolve_in_the_activity_and_never_reach_history(engine: Engine) -> None:
    run = await engine.start(
        doc(
            """
  - ref: a
    action: core.transform.apply
    args:
      value: "Bearer ${{ SECRETS.intel.api_key }}"
      python_lambda: "lambda s: len(s)"
""",
            "returns: ${{ ACTIONS.a.result }}",
        )
    )
    from keel.orchestration.client import wait_result

    assert await wait_result(run) == len("Bearer s3cr3t-value")
    assert "s3cr3t-value" not in await engine.history_text(run)


async def test_start_delay_is_a_durable_timer(engine: Engine) -> None:
    run = await engine.start(
        doc(
            "  - ref: a\n    action: core.transform.reshape\n    start_delay: 0.5\n    args: {value: 1}\n"
        )
    )
    await wait_result(run)
    assert "TIMER_STARTED" in await engine.history_text(
        run
    ) or "TimerStarted" in await engine.history_text(run)


async def test_wait_until_reads_a_phrase_against_the_run_clock(engine: Engine) -> None:
    run = await engine.start(
        doc(
            "  - ref: a\n    action: core.transform.reshape\n    wait_until: in 1 second\n"
            "    args: {value: '${{ FN.now() }}'}\n",
            "returns: ${{ ACTIONS.a.result }}",
        )
    )
    ran_at = await wait_result(run)
    history = await run.handle.fetch_history()
    started = history.events[0].event_time.ToDatetime(tzinfo=UTC)
    # The action ran on the run's clock at least a second after the run started: a timer.
    assert datetime.fromisoformat(str(ran_at)).replace(tzinfo=UTC) >= started + timedelta(seconds=1)
    # The phrase was read in a local activity, whose answer the history records (a marker).
    markers = [
        json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert [m["activity_type"] for m in markers] == ["keel.resolve_instant"]
    assert any(e.HasField("timer_started_event_attributes") for e in history.events)


async def test_a_wait_until_that_names_no_time_fails_the_action(engine: Engine) -> None:
    run = await engine.start(
        doc(
            "  - ref: a\n    action: core.transform.reshape\n"
            "    wait_until: ${{ 'after ' + 'lunch, maybe' }}\n    args: {value: 1}\n"
        )
    )
    with pytest.raises(
        RunFailedError, match=r"'after lunch, maybe' is not a time Keel understands"
    ):
        await wait_result(run)


async def test_config_timeout_stops_the_run(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            doc(
                "  - ref: a\n    action: core.transform.reshape\n    start_delay: 30\n    args: {value: 1}\n",
                "config: {timeout: 1}",
            )
        )
    assert "timeout" in str(info.value)


async def test_reshape_that_reads_secrets_runs_in_an_activity(engine: Engine) -> None:
    result = await engine.run(
        doc(
            "  - ref: a\n    action: core.transform.reshape\n"
            "    args: {value: {n: '${{ FN.length(SECRETS.intel.api_key) }}', plain: 1}}\n",
            "returns: ${{ ACTIONS.a.result }}",
        )
    )
    assert result == {"n": len("s3cr3t-value"), "plain": 1}


async def test_a_10000_item_pure_for_each_completes_with_a_small_history(engine: Engine) -> None:
    run = await engine.start(
        doc(
            """
  - ref: items
    action: core.transform.reshape
    args: {value: "${{ FN.range(0, 10000) }}"}
  - ref: each
    action: core.transform.reshape
    depends_on: [items]
    for_each: ${{ for var.i in ACTIONS.items.result }}
    args: {value: "${{ var.i * 2 }}"}
""",
            "returns: {count: '${{ FN.length(ACTIONS.each.result) }}', last: '${{ ACTIONS.each.result[-1] }}'}",
        )
    )
    from keel.orchestration.client import wait_result

    assert await wait_result(run) == {"count": 10000, "last": 19998}
    history = await run.handle.fetch_history()
    assert len(history.events) < 20  # pure items are evaluated in the workflow: no event per item


async def test_an_action_reads_secrets_from_its_own_environment(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: run_env
    action: core.transform.apply
    args: {value: "${{ SECRETS.intel.api_key }}", python_lambda: "lambda k: k[:3]"}
  - ref: own_env
    action: core.transform.apply
    depends_on: [run_env]
    environment: staging
    args: {value: "${{ SECRETS.intel.api_key }}", python_lambda: "lambda k: k[:3]"}
  - ref: per_item
    action: core.transform.apply
    depends_on: [own_env]
    for_each: ${{ for var.env in ['default', 'staging'] }}
    environment: ${{ var.env }}
    args: {value: "${{ SECRETS.intel.api_key }}", python_lambda: "lambda k: k[:3]"}
""",
            "returns: ['${{ ACTIONS.run_env.result }}', '${{ ACTIONS.own_env.result }}', "
            "'${{ ACTIONS.per_item.result }}']",
        )
    )
    assert result == ["s3c", "stg", ["s3c", "stg"]]


async def test_an_environment_that_is_not_a_name_fails_the_action(engine: Engine) -> None:
    run = await engine.start(
        doc(
            "  - ref: a\n    action: core.transform.apply\n    environment: ${{ 42 }}\n"
            "    args: {value: 1, python_lambda: 'lambda x: x'}\n"
        )
    )
    with pytest.raises(RunFailedError, match=r"environment: expected the name of a secrets"):
        await wait_result(run)


async def test_a_bug_in_keel_fails_the_action_instead_of_vanishing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keel's own workflow code raising (not an action failing) must not pass unnoticed: before,
    # the exception ended its task silently and the run succeeded without the action's result.
    real_run = ActionRunner.run

    async def buggy(self: ActionRunner, stmt: Any, state: Any) -> Any:
        if stmt.ref == "b":
            raise RuntimeError("simulated bug")
        return await real_run(self, stmt, state)

    monkeypatch.setattr(ActionRunner, "run", buggy)
    document = doc(
        """
  - ref: a
    action: core.transform.reshape
    args: {value: 1}
  - ref: b
    action: core.transform.reshape
    depends_on: [a]
    args: {value: 2}
""",
        "returns: ${{ ACTIONS.b.result }}",
    )
    with pytest.raises(RunFailedError, match=r"action 'b' failed.*internal error in Keel: Runtime"):
        await engine.run(document)


async def test_fn_uuid4_in_workflow_code_is_the_same_on_replay(
    temporal_client: Client, task_queue: str
) -> None:
    # A reshape runs in workflow code: its FN.uuid4() must come from the run's deterministic
    # generator, or a replay (here: a query answered by a fresh worker, which replays the whole
    # history) sees another value than the run returned, and a run_if on it could flip.
    document = """
title: t
description: d
actions:
  - ref: stamp
    action: core.transform.reshape
    args: {value: "${{ FN.uuid4() }}"}
returns: ${{ ACTIONS.stamp.result }}
"""
    async with build_worker(temporal_client, task_queue, LocalExecutor()):
        started = await Engine(temporal_client, task_queue).start(document)
        returned = await wait_result(started)
    assert isinstance(returned, str) and len(returned) == 36
    async with build_worker(temporal_client, task_queue, LocalExecutor()):  # nothing cached
        replayed = await started.handle.query("context", result_type=dict)
    assert replayed["ACTIONS"]["stamp"]["result"] == returned
