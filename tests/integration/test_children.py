"""Child workflows: wait/detach, loop and fail strategies, inheritance, lineage, error handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from keel.config import Settings
from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration.catalog import DirectoryCatalog
from keel.orchestration.client import RunFailedError, original_request, start_run, wait_result
from keel.orchestration.payloads import run_result
from keel.orchestration.secrets import FileSecrets
from keel.orchestration.worker import build_worker
from keel.store.database import LazyDatabase
from keel.store.seen_keys import DatabaseSeenKeys
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration

CHILDREN = {
    "double": """
title: double
description: doubles n; fails when n is 13
entrypoint:
  expects: {n: {type: int}}
actions:
  - ref: check
    action: core.transform.apply
    args: {value: "${{ TRIGGER.n }}", python_lambda: "lambda n: 1 // (n - 13)"}
  - ref: out
    action: core.transform.reshape
    depends_on: [check]
    args: {value: "${{ TRIGGER.n * 2 }}"}
returns: ${{ ACTIONS.out.result }}
""",
    "inherits": """
title: inherits
description: reads its parent's context
actions:
  - ref: read
    action: core.transform.apply
    args:
      value:
        parent_trigger: "${{ PARENT.TRIGGER.who }}"
        parent_result: "${{ PARENT.ACTIONS.first.result }}"
        parent_env: "${{ PARENT.ENV.environment }}"
        key_length: "${{ FN.length(PARENT.SECRETS.intel.api_key) }}"
      python_lambda: "lambda x: x"
returns: ${{ ACTIONS.read.result }}
""",
    "sleepy": """
title: sleepy
description: waits a little
actions:
  - ref: nap
    action: core.transform.reshape
    start_delay: 1
    args: {value: done}
returns: ${{ ACTIONS.nap.result }}
""",
    "selfish": """
title: selfish
description: a handler that fails and names itself as its handler
error_handler: selfish
actions:
  - ref: boom
    action: core.transform.apply
    args: {value: 0, python_lambda: "lambda n: 1 // n"}
""",
    "flaky": """
title: flaky
description: fails the first time it sees n, succeeds after (remembered across runs)
entrypoint:
  expects: {n: {type: int}}
actions:
  - ref: seen
    action: core.transform.is_duplicate
    args: {item: {n: "${{ TRIGGER.n }}"}, keys: [n]}
  - ref: boom
    action: core.transform.apply
    depends_on: [seen]
    args: {value: "${{ ACTIONS.seen.result }}", python_lambda: "lambda seen: 1 // int(seen)"}
returns: ${{ TRIGGER.n }}
""",
    "handler": """
title: handler
description: records the failure it was handed
actions:
  - ref: note
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.errors[0].ref }}"}
returns: ${{ TRIGGER }}
""",
}


@pytest.fixture
async def engine(temporal_client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Engine]:
    for name, text in CHILDREN.items():
        (tmp_path / f"{name}.yml").write_text(text)
    secrets = tmp_path / "secrets.yml"
    secrets.write_text("default: {intel: {api_key: very-secret-key}}\n")
    store = Settings(home=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}")
    worker = build_worker(
        temporal_client,
        task_queue,
        LocalExecutor(),
        FileSecrets(secrets),
        catalog=DirectoryCatalog([tmp_path]),
        seen=DatabaseSeenKeys(LazyDatabase.from_settings(store)),
    )
    async with worker:
        yield Engine(temporal_client, task_queue)


def fan_out(loop: str, fail: str, items: str = "[1, 2, 3]", extra: str = "") -> str:
    return f"""
title: parent
description: fans out children
actions:
  - ref: items
    action: core.transform.reshape
    args: {{value: {items}}}
  - ref: kids
    action: core.workflow.execute
    depends_on: [items]
    for_each: ${{{{ for var.n in ACTIONS.items.result }}}}
    args:
      workflow_alias: double
      trigger_inputs: {{n: "${{{{ var.n }}}}"}}
      loop_strategy: {loop}
      fail_strategy: {fail}
      batch_size: 2
{extra}
returns: ${{{{ ACTIONS.kids.result }}}}
"""


@pytest.mark.parametrize("loop", ["parallel", "batch", "sequential"])
async def test_each_loop_strategy_returns_results_in_input_order(engine: Engine, loop: str) -> None:
    assert await engine.run(fan_out(loop, "isolated", "[3, 1, 2]")) == [6, 2, 4]


@pytest.mark.parametrize("loop", ["parallel", "batch", "sequential"])
async def test_isolated_failures_become_error_entries(engine: Engine, loop: str) -> None:
    result = await engine.run(fan_out(loop, "isolated", "[1, 13, 2]"))
    assert result[0] == 2 and result[2] == 4
    assert "ZeroDivisionError" in result[1]["error"]["message"]


@pytest.mark.parametrize("loop", ["parallel", "batch", "sequential"])
async def test_fail_all_fails_the_action_on_the_first_failure(engine: Engine, loop: str) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(fan_out(loop, "all", "[1, 13, 2]"))
    assert "action 'kids' failed" in str(info.value) and "child run" in str(info.value)


async def test_trigger_inputs_are_checked_against_the_childs_expects(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(fan_out("batch", "all", "['x']"))
    assert "field 'n': expected int" in str(info.value)


async def test_detach_returns_ids_and_the_child_outlives_the_parent(engine: Engine) -> None:
    run = await engine.start(
        """
title: parent
description: detaches a slow child
actions:
  - ref: kid
    action: core.workflow.execute
    args: {workflow_alias: sleepy, wait_strategy: detach}
returns: ${{ ACTIONS.kid.result }}
"""
    )
    result = await wait_result(run)
    assert result["status"] == "STARTED" and result["wf_id"] == "sleepy"
    child = engine.client.get_workflow_handle(result["wf_exec_id"])
    assert (await child.describe()).status.name == "RUNNING"  # the parent is already done
    assert run_result(await child.result()) == "done"


async def test_inheritance_passes_context_and_secrets_stay_out_of_history(engine: Engine) -> None:
    run = await engine.start(
        """
title: parent
description: passes its context down
config: {environment: default}
actions:
  - ref: first
    action: core.transform.reshape
    args: {value: [1, 2]}
  - ref: kid
    action: core.workflow.execute
    depends_on: [first]
    args: {workflow_alias: inherits, inherit: true}
returns: ${{ ACTIONS.kid.result }}
""",
        {"who": "alice"},
    )
    result = await wait_result(run)
    assert result == {
        "parent_trigger": "alice",
        "parent_result": [1, 2],
        "parent_env": "default",
        "key_length": len("very-secret-key"),
    }
    child_id = f"{run.execution_id}--kid"
    child_history = await engine.client.get_workflow_handle(child_id).fetch_history()
    parent_history = await run.handle.fetch_history()
    import json

    for history in (child_history, parent_history):
        assert "very-secret-key" not in json.dumps(history.to_json_dict())


async def test_inherit_with_a_list_passes_only_those_contexts(engine: Engine) -> None:
    result = await engine.run(
        """
title: parent
description: passes TRIGGER only
actions:
  - ref: first
    action: core.transform.reshape
    args: {value: 1}
  - ref: kid
    action: core.workflow.execute
    depends_on: [first]
    args: {workflow_alias: inherits, inherit: [TRIGGER, SECRETS]}
returns: ${{ ACTIONS.kid.result }}
""",
        {"who": "bob"},
    )
    assert result["parent_trigger"] == "bob" and result["parent_result"] is None


async def test_lineage_is_recorded_in_the_child_run(engine: Engine) -> None:
    run = await engine.start(fan_out("batch", "isolated", "[1]"))
    await wait_result(run)
    child = await original_request(engine.client, f"{run.execution_id}--kids-0")
    assert child.parent is not None
    assert child.parent.execution_id == run.execution_id and child.parent.action == "kids"


async def test_an_unknown_child_workflow_fails_clearly(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            "title: p\ndescription: d\nactions:\n  - ref: kid\n    action: core.workflow.execute\n"
            "    args: {workflow_alias: nope}\n"
        )
    assert "no workflow 'nope' in the catalog" in str(info.value)


async def test_error_handler_gets_the_failure_and_a_failing_handler_does_not_loop(
    engine: Engine,
) -> None:
    run = await engine.start(
        """
title: parent
description: fails and hands off
error_handler: handler
actions:
  - ref: boom
    action: core.transform.apply
    args: {value: 0, python_lambda: "lambda n: 1 // n"}
""",
        {"source": "test"},
    )
    with pytest.raises(RunFailedError):
        await wait_result(run)
    handler = engine.client.get_workflow_handle(f"{run.execution_id}--error-handler")
    trigger = run_result(await asyncio.wait_for(handler.result(), timeout=30))
    assert trigger["execution_id"] == run.execution_id
    assert trigger["trigger"] == {"source": "test"}
    (error,) = trigger["errors"]
    assert error["ref"] == "boom" and error["attempts"] == 1
    assert error["type"] == "LambdaError" and "ZeroDivisionError" in error["message"]
    request = await original_request(engine.client, handler.id)
    assert request.is_error_handler


async def test_a_failing_handler_does_not_start_another_handler(engine: Engine) -> None:
    run = await engine.start(
        "title: p\ndescription: d\nerror_handler: selfish\nactions:\n  - ref: boom\n"
        "    action: core.transform.apply\n    args: {value: 0, python_lambda: 'lambda n: 1 // n'}\n"
    )
    with pytest.raises(RunFailedError):
        await wait_result(run)
    handler = engine.client.get_workflow_handle(f"{run.execution_id}--error-handler")
    with pytest.raises(WorkflowFailureError):
        await asyncio.wait_for(handler.result(), timeout=30)
    second = engine.client.get_workflow_handle(f"{handler.id}--error-handler")
    with pytest.raises(RPCError):
        await second.describe()


async def test_the_parent_lists_its_children_with_their_status(engine: Engine) -> None:
    from keel.orchestration.inspection import describe_run

    run = await engine.start(fan_out("batch", "isolated", "[1, 13]"))
    await wait_result(run)
    parent = await describe_run(engine.client, run.execution_id)
    assert [(c.execution_id, c.action, c.status) for c in parent.child_runs] == [
        (f"{run.execution_id}--kids-0", "kids", "succeeded"),
        (f"{run.execution_id}--kids-1", "kids", "failed"),
    ]
    child = await describe_run(engine.client, f"{run.execution_id}--kids-0")
    assert child.parent_execution_id == run.execution_id and child.parent_action == "kids"


async def test_a_child_over_its_timeout_fails_the_action(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            "title: p\ndescription: d\nactions:\n  - ref: kid\n    action: core.workflow.execute\n"
            "    args: {workflow_alias: sleepy, timeout: 0.5}\n"
        )
    assert "action 'kid' failed" in str(info.value) and "child run" in str(info.value)


async def test_cancelling_a_parent_cancels_the_child_it_waits_for(engine: Engine) -> None:
    run = await engine.start(
        "title: p\ndescription: d\nactions:\n  - ref: kid\n    action: core.workflow.execute\n"
        "    args: {workflow_alias: sleepy}\n"
    )
    child = engine.client.get_workflow_handle(f"{run.execution_id}--kid")

    async def child_running() -> bool:
        try:
            return (await child.describe()).status.name == "RUNNING"
        except RPCError:
            return False

    for _ in range(50):
        if await child_running():
            break
        await asyncio.sleep(0.1)
    await run.handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await run.handle.result()
    for _ in range(50):
        if (await child.describe()).status.name == "CANCELED":
            break
        await asyncio.sleep(0.1)
    assert (await child.describe()).status.name == "CANCELED"


@pytest.fixture
def small_fanout(monkeypatch: pytest.MonkeyPatch) -> None:
    # The worker runs in this process and the module is shared with the sandbox (passed
    # through), so a lower threshold makes a 5-child fan-out go through relay runs.
    import keel.orchestration.children as children

    monkeypatch.setattr(children, "FANOUT_PER_RUN", 2)


@pytest.mark.parametrize("loop", ["parallel", "sequential"])
async def test_a_large_fan_out_goes_through_relay_runs_in_order(
    engine: Engine, small_fanout: None, loop: str
) -> None:
    run = await engine.start(fan_out(loop, "isolated", "[5, 4, 13, 2, 1]"))
    result = await wait_result(run)
    assert result[:2] == [10, 8] and result[3:] == [4, 2]
    assert "ZeroDivisionError" in result[2]["error"]["message"]
    from keel.orchestration.inspection import child_runs

    relays = await child_runs(engine.client, run.execution_id)
    assert [r.execution_id.rsplit("--", 1)[1] for r in relays] == [
        "kids-relay0",
        "kids-relay2",
        "kids-relay4",
    ]
    grandchildren = await child_runs(engine.client, relays[1].execution_id)
    assert [g.execution_id.rsplit("--", 1)[1] for g in grandchildren] == ["kids-2", "kids-3"]


async def test_a_relayed_fan_out_fails_all_on_the_first_failure(
    engine: Engine, small_fanout: None
) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(fan_out("batch", "all", "[1, 2, 13, 4, 5]"))
    assert "action 'kids' failed" in str(info.value) and "ZeroDivisionError" in str(info.value)


async def test_relayed_children_inherit_the_original_parents_context(
    engine: Engine, small_fanout: None
) -> None:
    result = await engine.run(
        """
title: parent
description: many children that read PARENT
actions:
  - ref: first
    action: core.transform.reshape
    args: {value: [1, 2, 3]}
  - ref: kids
    action: core.workflow.execute
    depends_on: [first]
    for_each: ${{ for var.n in ACTIONS.first.result }}
    args: {workflow_alias: inherits, inherit: true}
returns: ${{ ACTIONS.kids.result }}
""",
        {"who": "carol"},
    )
    assert [r["parent_trigger"] for r in result] == ["carol"] * 3
    assert all(r["parent_result"] == [1, 2, 3] and r["key_length"] == 15 for r in result)


async def test_a_fan_out_resolves_the_child_workflow_once(engine: Engine) -> None:
    # The children start together and share one keel.resolve_workflow local activity (one
    # marker in the parent's history), not one each.
    run = await engine.start(fan_out("parallel", "isolated", "[1, 2, 3, 4, 5, 6]"))
    assert await wait_result(run) == [2, 4, 6, 8, 10, 12]
    history = await run.handle.fetch_history()
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert len(markers) == 1


async def test_an_unknown_child_in_a_fan_out_fails_every_item_alike(engine: Engine) -> None:
    result = await engine.run(
        fan_out("parallel", "isolated", "[1, 2]").replace(
            "workflow_alias: double", "workflow_alias: nope"
        )
    )
    # The two items shared one failed lookup: each is an error entry saying why.
    messages = [r["error"]["message"] for r in result]
    assert len(messages) == 2 and all("no workflow 'nope'" in m for m in messages)


async def test_relay_runs_beyond_the_window_wait_their_turn_and_keep_order(
    engine: Engine, small_fanout: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keel.orchestration.children as children

    monkeypatch.setattr(children, "RELAYS_AT_ONCE", 1)
    result = await engine.run(fan_out("parallel", "isolated", "[5, 4, 13, 2, 1]"))
    assert result[:2] == [10, 8] and result[3:] == [4, 2]
    assert "ZeroDivisionError" in result[2]["error"]["message"]


async def test_a_thousand_children_through_relays_of_the_real_size(engine: Engine) -> None:
    # The real threshold (100 children per run, 10 relays at once), not a lowered one. A
    # 10,000-child fan-out is the same shape ten times over; it takes about 5 minutes here, so
    # `python -m bench.fanout --only children --children 10000` runs it (bench/RESULTS.md).
    run = await engine.start(fan_out("parallel", "isolated", '"${{ FN.range(0, 1000) }}"'))
    result = await wait_result(run)
    assert len(result) == 1_000
    assert all(result[i] == 2 * i for i in range(1_000) if i != 13)
    assert "ZeroDivisionError" in result[13]["error"]["message"]
    histories = [await run.handle.fetch_history()]
    for start in (0, 900):
        relay = engine.client.get_workflow_handle(f"{run.handle.id}--kids-relay{start}")
        histories.append(await relay.fetch_history())
    for history in histories:  # Temporal's limits: about 50,000 events and 50 MB per history
        assert len(history.events) < 1_000
        assert sum(event.ByteSize() for event in history.events) < 1_000_000


RETRIED = """
title: parent
description: retries its children
actions:
  - ref: items
    action: core.transform.reshape
    args: {{value: [1, 2]}}
  - ref: kids
    action: core.workflow.execute
    depends_on: [items]
    for_each: ${{{{ for var.n in ACTIONS.items.result }}}}
    retry_policy: {{max_attempts: {attempts}, backoff: {{initial: 0}}}}
    args:
      workflow_alias: {child}
      trigger_inputs: {{n: "${{{{ var.n }}}}"}}
      fail_strategy: {fail}
returns: ${{{{ ACTIONS.kids.result }}}}
"""


async def test_a_failed_child_is_run_again_per_retry_policy(engine: Engine) -> None:
    # Each child fails its first run and succeeds in its second, a new child run.
    run = await engine.start(RETRIED.format(attempts=2, child="flaky", fail="all"))
    assert await wait_result(run) == [1, 2]
    second = engine.client.get_workflow_handle(f"{run.handle.id}--kids-0-attempt2")
    assert run_result(await second.result()) == 1
    first = engine.client.get_workflow_handle(f"{run.handle.id}--kids-0")
    with pytest.raises(WorkflowFailureError):
        await first.result()


async def test_retries_stop_at_max_attempts_and_say_how_many(engine: Engine) -> None:
    document = RETRIED.format(attempts=3, child="double", fail="all").replace("[1, 2]", "[13]")
    with pytest.raises(RunFailedError, match=r"after 3 attempt\(s\).*kids-0-attempt3 failed"):
        await engine.run(document)


SCATTER_CHILDREN = """
title: parent
description: one child per scattered item
actions:
  - ref: items
    action: core.transform.scatter
    args: {collection: %s}
  - ref: kid
    action: core.workflow.execute
    depends_on: [items]
    args:
      workflow_alias: double
      trigger_inputs: {n: "${{ ACTIONS.items.result }}"}
      inherit: %s
  - ref: plus
    action: core.transform.reshape
    depends_on: [kid]
    args: {value: "${{ ACTIONS.kid.result + 1 }}"}
  - ref: back
    action: core.transform.gather
    depends_on: [plus]
    args: {items: "${{ ACTIONS.plus.result }}", error_strategy: partition}
returns: {result: "${{ ACTIONS.back.result }}", error: "${{ ACTIONS.back.error }}"}
"""


async def test_a_child_per_scattered_item_each_with_its_own_run(engine: Engine) -> None:
    from keel.orchestration.inspection import describe_run

    run = await engine.start(SCATTER_CHILDREN % ("[1, 2, 3]", "false"))
    assert run_result(await wait_result(run)) == {"result": [3, 5, 7], "error": None}
    parent = await describe_run(engine.client, run.execution_id)
    assert [(c.execution_id, c.action, c.status) for c in parent.child_runs] == [
        (f"{run.execution_id}--kid.items-{i}", "kid", "succeeded") for i in range(3)
    ]
    # Each child got its own item (its trigger), not the first stream's or the last one's.
    for i, n in enumerate([1, 2, 3]):
        request = await original_request(engine.client, f"{run.execution_id}--kid.items-{i}")
        assert request.trigger == {"n": n}


async def test_a_failing_child_fails_only_its_stream(engine: Engine) -> None:
    run = await engine.start(SCATTER_CHILDREN % ("[1, 13, 2]", "false"))
    result = run_result(await wait_result(run))
    assert result["result"] == [3, 5]
    (error,) = result["error"]
    assert error["index"] == 1 and error["ref"] == "kid"
    assert "ZeroDivisionError" in error["message"]


async def test_a_child_in_a_stream_inherits_that_stream_s_context(engine: Engine) -> None:
    run = await engine.start(
        """
title: parent
description: a child per item reads the item's own results through PARENT
actions:
  - ref: items
    action: core.transform.scatter
    args: {collection: [a, b]}
  - ref: first
    action: core.transform.reshape
    depends_on: [items]
    args: {value: "item ${{ ACTIONS.items.result }}"}
  - ref: kid
    action: core.workflow.execute
    depends_on: [first]
    args: {workflow_alias: inherits, inherit: [ACTIONS, TRIGGER, ENV, SECRETS]}
  - ref: back
    action: core.transform.gather
    depends_on: [kid]
    args: {items: "${{ ACTIONS.kid.result.parent_result }}"}
returns: ${{ ACTIONS.back.result }}
""",
        {"who": "me"},
    )
    assert run_result(await wait_result(run)) == ["item a", "item b"]


async def test_a_child_per_loop_pass(engine: Engine) -> None:
    run = await engine.start(
        """
title: parent
description: one child per pass, until the child's answer reaches 4
actions:
  - ref: again
    action: core.loop.start
  - ref: kid
    action: core.workflow.execute
    depends_on: [again]
    args:
      workflow_alias: double
      trigger_inputs: {n: "${{ ACTIONS.again.result.iteration }}"}
  - ref: until
    action: core.loop.end
    depends_on: [kid]
    args: {condition: "${{ ACTIONS.kid.result < 4 }}"}
returns: ${{ ACTIONS.until.result }}
"""
    )
    assert run_result(await wait_result(run)) == {"continue": False, "iterations": 3}
    for n in range(3):  # passes 0, 1, 2: the child doubled each pass's number
        request = await original_request(engine.client, f"{run.execution_id}--kid.again-p{n}")
        assert request.trigger == {"n": n}


def test_a_stream_label_becomes_an_unambiguous_run_id_part() -> None:
    from keel.orchestration.children import stream_scope

    assert stream_scope("scan[3]") == "scan-3"
    assert stream_scope("rows[1]/cells[0]") == "rows-1.cells-0"
    assert stream_scope("retry#2/scan[10]") == "retry-p2.scan-10"


async def test_children_of_a_scatter_walked_in_relay_runs(engine: Engine) -> None:
    # 260 items: more than one relay run's 250 streams (keel.orchestration.stream_relays), so
    # the last 10 children are started by the second relay run.
    from keel.orchestration.inspection import describe_run

    run = await engine.start(SCATTER_CHILDREN % ('"${{ FN.range(0, 260) }}"', "false"))
    result = run_result(await wait_result(run))
    assert result["result"] == [2 * n + 1 for n in range(260) if n != 13]  # `double` fails 13
    assert [error["index"] for error in result["error"]] == [13]
    detail = await describe_run(engine.client, run.execution_id)
    relays = [c.execution_id for c in detail.child_runs]
    assert [r.rsplit("--", 1)[1] for r in relays] == ["items-streams0", "items-streams250"]
    second = await describe_run(engine.client, relays[1])
    assert [c.execution_id for c in second.child_runs] == [
        f"{relays[1]}--kid.items-{i}" for i in range(250, 260)
    ]


async def test_a_child_run_id_over_temporals_limit_fails_the_action_clearly(
    engine: Engine,
) -> None:
    # Nested children (and regions) lengthen run ids level by level; here the parent's own id
    # is already long. The child action fails with the reason, instead of Temporal refusing
    # the start and the parent's workflow task failing over and over.
    workflow = parse_workflow(
        """
title: parent
description: runs a child
actions:
  - ref: kid
    action: core.workflow.execute
    args: {workflow_alias: double, trigger_inputs: {n: 2}}
returns: ${{ ACTIONS.kid.result }}
"""
    )
    run = await start_run(
        engine.client, workflow, task_queue=engine.task_queue, execution_id="r" * 996
    )
    with pytest.raises(RunFailedError) as info:
        await asyncio.wait_for(wait_result(run), 60)
    assert "action 'kid' failed" in str(info.value)
    assert "over Temporal's limit of 1,000 characters" in str(info.value)
    assert "nested too deep" in str(info.value)
