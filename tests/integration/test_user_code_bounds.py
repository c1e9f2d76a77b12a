"""Abuse suite on a real dev server: user code that bombs fails its action, and the worker lives.

Each bomb runs in a real run on the session's Temporal dev server with an in-process worker:
lambdas in activities, expressions in workflow code (``core.transform.reshape`` is evaluated in
the workflow). Each must fail the *action*, and so the run, with a message naming the limit (not
leave the run "running" with workflow-task retries in a log), and a run started afterwards on the
same worker must succeed. The worker's process memory is measured around the bombs.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from keel.config import Settings
from keel.execution.base import ActionCall
from keel.execution.factory import create_executor
from keel.execution.local import LocalExecutor
from keel.expressions.limits import Limits, configure, current
from keel.orchestration.client import RunFailedError
from keel.orchestration.worker import build_worker
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration

#: Growth of this process's peak memory the bombs may cause (each would take 1 to 3 GB).
PEAK_GROWTH_BYTES = 400 * 1024 * 1024
#: A run that hangs is a failure of this suite: bound the wait (not a timing assertion).
RUN_WAIT_SECONDS = 120

#: Bounds small enough that workflow-code bombs are refused in milliseconds on a busy machine.
TEST_LIMITS = Limits(expression_work=50_000, regex_seconds=0.2)

ALIAS_BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x,x]\\n"
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\\n"
)


@pytest.fixture
def limits() -> Iterator[None]:
    before = current()
    configure(TEST_LIMITS)  # what a worker does with its settings, process-wide
    yield
    configure(before)


@pytest.fixture
async def engine(temporal_client: Client, task_queue: str, limits: None) -> AsyncIterator[Engine]:
    async with build_worker(temporal_client, task_queue, LocalExecutor()):
        yield Engine(temporal_client, task_queue)


def lambda_doc(source: str) -> str:
    return f"""title: lambda bomb
description: d
actions:
  - ref: bomb
    action: core.transform.apply
    retry_policy: {{max_attempts: 1}}
    args:
      value: x
      python_lambda: "{source}"
"""


def expression_doc(expression: str) -> str:
    return f"""title: expression bomb
description: d
actions:
  - ref: bomb
    action: core.transform.reshape
    retry_policy: {{max_attempts: 1}}
    args:
      value: "${{{{ {expression} }}}}"
"""


HEALTHY = """title: healthy
description: d
actions:
  - ref: a
    action: core.transform.apply
    args: {value: 20, python_lambda: "lambda x: x + 1"}
  - ref: b
    action: core.transform.reshape
    depends_on: [a]
    args: {value: "${{ FN.add(ACTIONS.a.result, 21) }}"}
returns: ${{ ACTIONS.b.result }}
"""


async def _fails(engine: Engine, document: str) -> str:
    with pytest.raises(RunFailedError) as info:
        await asyncio.wait_for(engine.run(document), RUN_WAIT_SECONDS)
    return str(info.value)


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        ("lambda x: str(['a' * 10**6] * 3000)", "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: f'{[x * 10**6] * 3000}'", "KEEL_MAX_VALUE_LENGTH"),
        ("lambda x: '%(a)999999999s' % {'a': x}", "format width 999,999,999"),
        ("lambda x: [len(x * 10**6) for i in range(10**6)]", "KEEL_LAMBDA_WORK"),
    ],
)
async def test_a_lambda_bomb_fails_its_action_and_the_worker_keeps_serving(
    engine: Engine, source: str, limit: str
) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    message = await _fails(engine, lambda_doc(source))
    assert "action 'bomb' failed" in message
    assert limit in message
    assert await asyncio.wait_for(engine.run(HEALTHY), RUN_WAIT_SECONDS) == 42
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert growth < PEAK_GROWTH_BYTES, f"peak memory grew by {growth:,} bytes"


@pytest.mark.parametrize(
    ("expression", "limit"),
    [
        # Too much work for workflow code: refused deterministically, long before Temporal's
        # 2 s deadlock detector would fail the workflow task (and retry it forever).
        ("FN.length(FN.unique(FN.range(0, 100000)))", "KEEL_EXPRESSION_WORK"),
        ("FN.pow(FN.pow(10, 10000), 10000)", "more than 100,000"),
        ("FN.format('{:{}}', 1, 2000000000)", "too large"),
        ("FN.regex_match('(a|aa)+$', FN.concat(FN.format('{:a>60}', ''), 'b'))",
         "KEEL_REGEX_SECONDS"),
        (f"FN.deserialize_yaml('{ALIAS_BOMB}')", "KEEL_YAML_ALIAS_NODES"),
    ],
)  # fmt: skip
async def test_a_bomb_in_workflow_code_fails_the_action_not_the_workflow_task(
    engine: Engine, expression: str, limit: str
) -> None:
    message = await _fails(engine, expression_doc(expression))
    assert "action 'bomb' failed" in message
    assert limit in message
    assert await asyncio.wait_for(engine.run(HEALTHY), RUN_WAIT_SECONDS) == 42


def for_each_doc(expression: str, items: int) -> str:
    return f"""title: many evaluations in one workflow task
description: d
actions:
  - ref: bomb
    action: core.transform.reshape
    retry_policy: {{max_attempts: 1}}
    for_each: "${{{{ for var.i in FN.range(0, {items}) }}}}"
    args:
      value: "${{{{ {expression} }}}}"
"""


async def test_evaluations_in_one_workflow_task_share_one_budget(engine: Engine) -> None:
    # Each item alone is cheap (about 6,000 units of 50,000), but the items are evaluated in the
    # same workflow task, which Temporal's deadlock detector times as one: the sum is bounded.
    heavy = "FN.length(FN.range(0, 3000))"
    message = await _fails(engine, for_each_doc(heavy, 10))
    assert "action 'bomb' failed" in message
    assert "KEEL_EXPRESSION_WORK" in message
    document = for_each_doc(heavy, 3) + "returns: ${{ ACTIONS.bomb.result }}\n"
    assert await asyncio.wait_for(engine.run(document), RUN_WAIT_SECONDS) == [3000] * 3


def test_keel_validate_refuses_an_alias_bomb_naming_file_and_line(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(
        "title: t\ndescription: d\n"
        + ALIAS_BOMB.replace("\\n", "\n")
        + "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        + "actions:\n  - ref: a\n    action: core.transform.reshape\n    args: {value: *g}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "keel.cli.main", "validate", str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert f"{bomb}:7" in output
    assert "KEEL_YAML_ALIAS_NODES" in output
    assert "Traceback" not in output


async def test_the_bounds_travel_with_each_call_to_a_ray_worker(
    request: pytest.FixtureRequest,
) -> None:
    # A Ray worker process reads no Keel settings: the executor's bounds go with every call.
    request.getfixturevalue("ray_cluster")
    executor = create_executor(Settings(executor="ray", max_value_length=1_000))
    try:
        call = ActionCall(
            "core.transform.apply", {"value": "a", "python_lambda": "lambda x: x * 1001"}
        )
        outcome = await executor.run(call)
        fits = await executor.run(
            ActionCall(
                "core.transform.apply", {"value": "a", "python_lambda": "lambda x: x * 1000"}
            )
        )
    finally:
        await executor.close()
    assert outcome.error is not None
    assert "limit 1,000, KEEL_MAX_VALUE_LENGTH" in outcome.error.message
    assert fits.error is None
    assert fits.result == "a" * 1000
