"""Scatter/gather and do-while regions, run for real: Temporal dev server + in-process executor."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from temporalio.client import Client

from keel.api.schemas.runs import ActionDetailOut
from keel.config import get_settings
from keel.execution.local import LocalExecutor
from keel.orchestration.client import RunFailedError, rerun_from_failure, wait_result
from keel.orchestration.inspection import describe_run, run_timeline
from keel.orchestration.payloads import ActionState
from keel.orchestration.secrets import FileSecrets
from keel.orchestration.worker import build_worker
from tests.integration.engine import Engine
from tests.integration.loopback import serving

pytestmark = pytest.mark.integration


class Handler(BaseHTTPRequestHandler):
    """``/item?value=X`` answers ``{"seen": X}``; ``/flaky?value=X`` fails the first call per X;
    anything else answers 500."""

    calls: Counter[str] = Counter()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/flaky":
            Handler.calls[query["value"]] += 1
            parts = parts._replace(path="/item" if Handler.calls[query["value"]] > 1 else "/fail")
        if parts.path == "/item":
            body, status = json.dumps({"seen": query.get("value")}).encode(), 200
        else:
            body, status = b"broken", 500
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(Handler) as url:
        yield url


@pytest.fixture
async def engine(
    temporal_client: Client, task_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Engine]:
    monkeypatch.setattr(get_settings(), "http_allow_private", True)
    secrets = tmp_path / "secrets.yml"
    secrets.write_text("default: {}\n")
    worker = build_worker(temporal_client, task_queue, LocalExecutor(), FileSecrets(secrets))
    async with worker:
        yield Engine(temporal_client, task_queue)


def doc(actions: str, returns: str = "") -> str:
    tail = f"returns: {returns}\n" if returns else ""
    return f"title: t\ndescription: d\nactions:\n{actions}{tail}"


def state(states: list[ActionState], ref: str) -> ActionState:
    return next(s for s in states if s.ref == ref)


SCATTER_HTTP = """
  - ref: hosts
    action: core.transform.scatter
    args: {collection: "${{ TRIGGER.hosts }}"}
  - ref: shape
    action: core.transform.reshape
    depends_on: [hosts]
    args: {value: "${{ FN.uppercase(ACTIONS.hosts.result) }}"}
  - ref: look
    action: core.http_request
    depends_on: [shape]
    args: {url: "${{ TRIGGER.base }}/item", params: {value: "${{ ACTIONS.shape.result }}"}}
  - ref: collect
    action: core.transform.gather
    depends_on: [look]
    args: {items: "${{ ACTIONS.look.result.data.seen }}"}
  - ref: after
    action: core.transform.reshape
    depends_on: [collect]
    args: {value: "${{ FN.length(ACTIONS.collect.result) }}"}
"""


async def test_scatter_runs_transform_and_http_per_item_and_gathers_in_order(
    engine: Engine, base_url: str
) -> None:
    run = await engine.start(
        doc(
            SCATTER_HTTP,
            "{collected: '${{ ACTIONS.collect.result }}', n: '${{ ACTIONS.after.result }}'}",
        ),
        {"hosts": ["a", "b", "c"], "base": base_url},
    )
    assert await wait_result(run) == {"collected": ["A", "B", "C"], "n": 3}
    progress = await engine.progress(run)
    look = state(progress.actions, "look")
    assert look.status == "succeeded"
    assert sorted(s.stream for s in look.streams) == ["hosts[0]", "hosts[1]", "hosts[2]"]
    by_stream = {s.stream: s for s in look.streams}
    assert by_stream["hosts[1]"].result["data"] == {"seen": "B"}
    assert by_stream["hosts[1]"].status == "succeeded"
    # Each stream's activity says which item it served.
    timeline = await run_timeline(engine.client, run.handle.id)
    assert "hosts[2]/look#1" in [event.detail for event in timeline]


async def test_an_empty_collection_gathers_an_empty_list(engine: Engine, base_url: str) -> None:
    result = await engine.run(
        doc(SCATTER_HTTP, "'${{ ACTIONS.collect.result }}'"), {"hosts": [], "base": base_url}
    )
    assert result == []


async def test_nested_scatter_gathers_each_level(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: rows
    action: core.transform.scatter
    args: {collection: [[1, 2], [3], []]}
  - ref: cells
    action: core.transform.scatter
    depends_on: [rows]
    args: {collection: "${{ ACTIONS.rows.result }}"}
  - ref: double
    action: core.transform.reshape
    depends_on: [cells]
    args: {value: "${{ ACTIONS.cells.result * 2 }}"}
  - ref: row_done
    action: core.transform.gather
    depends_on: [double]
    args: {items: "${{ ACTIONS.double.result }}"}
  - ref: table
    action: core.transform.gather
    depends_on: [row_done]
    args: {items: "${{ ACTIONS.row_done.result }}"}
""",
            "'${{ ACTIONS.table.result }}'",
        )
    )
    assert result == [[2, 4], [6], []]


async def test_a_skipped_item_contributes_nothing(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: numbers
    action: core.transform.scatter
    args: {collection: [1, 2, 3, 4]}
  - ref: evens
    action: core.transform.reshape
    depends_on: [numbers]
    run_if: "${{ FN.mod(ACTIONS.numbers.result, 2) == 0 }}"
    args: {value: "${{ ACTIONS.numbers.result }}"}
  - ref: collect
    action: core.transform.gather
    depends_on: [evens]
    args: {items: "${{ ACTIONS.evens.result }}"}
""",
            "'${{ ACTIONS.collect.result }}'",
        )
    )
    assert result == [2, 4]


def failing(strategy: str, extra: str = "") -> str:
    return doc(
        f"""
  - ref: items
    action: core.transform.scatter
    args: {{collection: [item, fail, item, null]}}
  - ref: call
    action: core.http_request
    depends_on: [items]
    args: {{url: "${{{{ TRIGGER.base }}}}/${{{{ ACTIONS.items.result or 'item' }}}}", params: {{value: "${{{{ ACTIONS.items.result }}}}"}}}}
  - ref: collect
    action: core.transform.gather
    depends_on: [call]
    args: {{items: "${{{{ ACTIONS.call.result.data.seen }}}}", error_strategy: {strategy}{extra}}}
""",
        "{result: '${{ ACTIONS.collect.result }}', error: '${{ ACTIONS.collect.error }}'}",
    )


async def test_partition_keeps_values_and_lists_failures_with_their_index(
    engine: Engine, base_url: str
) -> None:
    result = await engine.run(failing("partition"), {"base": base_url})
    assert result["result"] == ["item", "item", None]
    [error] = result["error"]
    assert error["index"] == 1
    assert error["ref"] == "call"
    assert "500" in error["message"]


async def test_include_puts_failures_in_place_and_drop_nulls_applies(
    engine: Engine, base_url: str
) -> None:
    result = await engine.run(failing("include", ", drop_nulls: true"), {"base": base_url})
    first, error, third = result["result"]
    assert (first, third) == ("item", "item")
    assert error["index"] == 1 and error["ref"] == "call"
    assert result["error"] is None


async def test_drop_leaves_failures_out(engine: Engine, base_url: str) -> None:
    result = await engine.run(failing("drop"), {"base": base_url})
    assert result == {"result": ["item", "item", None], "error": None}


async def test_raise_fails_the_gather_naming_the_item(engine: Engine, base_url: str) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(failing("raise"), {"base": base_url})
    message = str(info.value)
    assert "action 'collect' failed" in message
    assert "item 1: action 'call' failed" in message


LOOP = """
  - ref: again
    action: core.loop.start
  - ref: body
    action: core.transform.reshape
    depends_on: [again]
    args: {value: "${{ ACTIONS.again.result.iteration * 10 }}"}
  - ref: until
    action: core.loop.end
    depends_on: [body]
    args: {condition: "${{ ACTIONS.body.result < 20 }}"%s}
"""


async def test_do_while_runs_three_passes(engine: Engine) -> None:
    run = await engine.start(
        doc(LOOP % "", "{end: '${{ ACTIONS.until.result }}', start: '${{ ACTIONS.again.result }}'}")
    )
    result = await wait_result(run)
    assert result == {"end": {"continue": False, "iterations": 3}, "start": {"iteration": 2}}
    progress = await engine.progress(run)
    body = state(progress.actions, "body")
    assert [(s.stream, s.result) for s in body.streams] == [
        ("again#0", 0),
        ("again#1", 10),
        ("again#2", 20),
    ]
    # The run's record (what GET /runs/{id} shows) lists each pass, and each pass's condition.
    detail = await describe_run(engine.client, run.handle.id)
    actions = {a.ref: a for a in detail.actions}
    assert [(s.stream, s.status) for s in actions["body"].streams] == [
        ("again#0", "succeeded"),
        ("again#1", "succeeded"),
        ("again#2", "succeeded"),
    ]
    assert [s.result for s in actions["until"].streams] == [
        {"continue": True},
        {"continue": True},
        {"continue": False},
    ]
    assert actions["until"].result == {"continue": False, "iterations": 3}
    out = ActionDetailOut(**dataclasses.asdict(actions["body"]))
    assert [s.stream for s in out.streams] == ["again#0", "again#1", "again#2"]


async def test_max_iterations_exceeded_fails_naming_the_loop(engine: Engine) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(doc(LOOP % ", max_iterations: 2"))
    message = str(info.value)
    assert "action 'until' failed" in message
    assert "loop 'again' reached max_iterations (2)" in message


async def test_a_loop_around_a_scatter(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: page
    action: core.loop.start
  - ref: rows
    action: core.transform.scatter
    depends_on: [page]
    args: {collection: [1, 2]}
  - ref: cell
    action: core.transform.reshape
    depends_on: [rows]
    args: {value: "${{ ACTIONS.rows.result + ACTIONS.page.result.iteration * 100 }}"}
  - ref: row
    action: core.transform.gather
    depends_on: [cell]
    args: {items: "${{ ACTIONS.cell.result }}"}
  - ref: last
    action: core.transform.reshape
    depends_on: [row]
    args: {value: "${{ ACTIONS.row.result }}"}
  - ref: done
    action: core.loop.end
    depends_on: [last]
    args: {condition: "${{ ACTIONS.page.result.iteration < 1 }}"}
""",
            "'${{ ACTIONS.done.result }}'",
        )
    )
    assert result == {"continue": False, "iterations": 2}


async def test_a_thousand_items_of_inline_work_add_no_event_per_item(engine: Engine) -> None:
    run = await engine.start(
        doc(
            """
  - ref: many
    action: core.transform.scatter
    args: {collection: "${{ FN.range(0, 1000) }}"}
  - ref: square
    action: core.transform.reshape
    depends_on: [many]
    args: {value: "${{ ACTIONS.many.result * ACTIONS.many.result }}"}
  - ref: collect
    action: core.transform.gather
    depends_on: [square]
    args: {items: "${{ ACTIONS.square.result }}"}
""",
            "'${{ FN.sum(ACTIONS.collect.result) }}'",
        )
    )
    assert await wait_result(run) == sum(i * i for i in range(1000))
    history = await run.handle.fetch_history()
    assert len(history.events) < 100


async def test_a_large_scatter_walks_its_streams_in_relay_runs(engine: Engine) -> None:
    run = await engine.start(
        doc(
            """
  - ref: many
    action: core.transform.scatter
    args: {collection: "${{ FN.range(0, 600) }}"}
  - ref: triple
    action: core.transform.apply
    depends_on: [many]
    run_if: "${{ ACTIONS.many.result != 7 }}"
    args: {value: "${{ ACTIONS.many.result }}", python_lambda: "lambda x: 30 // (x - 500)"}
  - ref: collect
    action: core.transform.gather
    depends_on: [triple]
    args: {items: "${{ ACTIONS.triple.result }}"}
""",
            "{result: '${{ ACTIONS.collect.result }}', error: '${{ ACTIONS.collect.error }}'}",
        )
    )
    result = await wait_result(run)
    expected = [30 // (x - 500) for x in range(600) if x not in (7, 500)]
    assert result["result"] == expected
    [error] = result["error"]
    assert error["index"] == 500 and error["ref"] == "triple"
    history = await run.handle.fetch_history()
    # Three relay runs of at most 250 streams: no activity marker in this run's history.
    assert not [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert len(history.events) < 60
    detail = await describe_run(engine.client, run.handle.id)
    assert sorted(c.execution_id.rsplit("-", 1)[-1] for c in detail.child_runs) == [
        "streams0",
        "streams250",
        "streams500",
    ]
    triple = next(a for a in detail.actions if a.ref == "triple")
    assert len(triple.streams) == 600
    by_stream = {s.stream: s for s in triple.streams}
    assert by_stream["many[7]"].status == "skipped"
    assert by_stream["many[500]"].status == "failed"
    assert by_stream["many[599]"].status == "succeeded"


async def test_an_activity_per_item_adds_about_one_event_per_item(engine: Engine) -> None:
    run = await engine.start(
        doc(
            """
  - ref: many
    action: core.transform.scatter
    args: {collection: "${{ FN.range(0, 200) }}"}
  - ref: triple
    action: core.transform.apply
    depends_on: [many]
    args: {value: "${{ ACTIONS.many.result }}", python_lambda: "lambda x: x * 3"}
  - ref: collect
    action: core.transform.gather
    depends_on: [triple]
    args: {items: "${{ ACTIONS.triple.result }}"}
""",
            "'${{ ACTIONS.collect.result }}'",
        )
    )
    assert await wait_result(run) == [i * 3 for i in range(200)]
    history = await run.handle.fetch_history()
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert len(markers) == 200
    assert len(history.events) < 200 + 60


async def test_interval_spaces_the_items_with_durable_timers(engine: Engine) -> None:
    run = await engine.start(
        doc(
            """
  - ref: slow
    action: core.transform.scatter
    args: {collection: [a, b, c], interval: 0.01}
  - ref: echo
    action: core.transform.reshape
    depends_on: [slow]
    args: {value: "${{ ACTIONS.slow.result }}"}
  - ref: collect
    action: core.transform.gather
    depends_on: [echo]
    args: {items: "${{ ACTIONS.echo.result }}"}
""",
            "'${{ ACTIONS.collect.result }}'",
        )
    )
    assert await wait_result(run) == ["a", "b", "c"]
    history = await run.handle.fetch_history()
    timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
    assert len(timers) == 2  # between the three items


async def test_an_error_path_inside_a_stream_keeps_the_stream_going(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: numbers
    action: core.transform.scatter
    args: {collection: [5, 0, 2]}
  - ref: divide
    action: core.transform.apply
    depends_on: [numbers]
    args: {value: "${{ ACTIONS.numbers.result }}", python_lambda: "lambda x: 10 // x"}
  - ref: fallback
    action: core.transform.reshape
    depends_on: [divide.error]
    args: {value: -1}
  - ref: collect
    action: core.transform.gather
    depends_on: [divide, fallback]
    join_strategy: any
    args: {items: "${{ ACTIONS.fallback.result || ACTIONS.divide.result }}"}
""",
            "{result: '${{ ACTIONS.collect.result }}', error: '${{ ACTIONS.collect.error }}'}",
        )
    )
    assert result == {"result": [2, -1, 5], "error": None}


async def test_a_failure_in_a_pass_fails_the_loop_naming_the_pass_and_action(
    engine: Engine,
) -> None:
    with pytest.raises(RunFailedError) as info:
        await engine.run(
            doc(
                """
  - ref: again
    action: core.loop.start
  - ref: step
    action: core.transform.apply
    depends_on: [again]
    args: {value: "${{ 2 - ACTIONS.again.result.iteration }}", python_lambda: "lambda x: 10 // x"}
  - ref: until
    action: core.loop.end
    depends_on: [step]
    args: {condition: true}
"""
            )
        )
    message = str(info.value)
    assert "action 'until' failed" in message
    assert "pass 2: action 'step' failed" in message
    assert "ZeroDivisionError" in message


async def test_a_rerun_from_a_failed_gather_runs_the_region_again(
    engine: Engine, base_url: str
) -> None:
    key = uuid.uuid4().hex[:8]
    document = doc(
        f"""
  - ref: keys
    action: core.transform.scatter
    args: {{collection: [{key}a, {key}b]}}
  - ref: call
    action: core.http_request
    depends_on: [keys]
    args: {{url: "${{{{ TRIGGER.base }}}}/flaky", params: {{value: "${{{{ ACTIONS.keys.result }}}}"}}}}
  - ref: collect
    action: core.transform.gather
    depends_on: [call]
    args: {{items: "${{{{ ACTIONS.call.result.data.seen }}}}", error_strategy: raise}}
""",
        "'${{ ACTIONS.collect.result }}'",
    )
    first = await engine.start(document, {"base": base_url})
    with pytest.raises(RunFailedError):
        await wait_result(first)
    again = await rerun_from_failure(engine.client, first.handle.id, task_queue=engine.task_queue)
    assert await wait_result(again) == [f"{key}a", f"{key}b"]


async def test_a_pass_reads_the_previous_pass_results(engine: Engine) -> None:
    result = await engine.run(
        doc(
            """
  - ref: pages
    action: core.loop.start
  - ref: fetch
    action: core.transform.reshape
    depends_on: [pages]
    args: {value: {cursor: "${{ (ACTIONS.fetch.result.cursor || 0) + 5 }}"}}
  - ref: more
    action: core.loop.end
    depends_on: [fetch]
    args: {condition: "${{ ACTIONS.fetch.result.cursor < 15 }}"}
  - ref: last
    action: core.transform.reshape
    depends_on: [more]
    args: {value: "${{ ACTIONS.more.result }}"}
""",
            "'${{ ACTIONS.last.result }}'",
        )
    )
    assert result == {"continue": False, "iterations": 3}


async def test_a_skipped_scatter_skips_its_whole_region(engine: Engine) -> None:
    run = await engine.start(
        doc(
            """
  - ref: start
    action: core.transform.reshape
    args: {value: 1}
  - ref: items
    action: core.transform.scatter
    depends_on: [start]
    run_if: "${{ False }}"
    args: {collection: [1, 2]}
  - ref: inside
    action: core.transform.reshape
    depends_on: [items]
    args: {value: "${{ ACTIONS.items.result }}"}
  - ref: collect
    action: core.transform.gather
    depends_on: [inside]
    args: {items: "${{ ACTIONS.inside.result }}"}
  - ref: after
    action: core.transform.reshape
    depends_on: [collect]
    args: {value: 2}
"""
        )
    )
    await wait_result(run)
    progress = await engine.progress(run)
    statuses = {s.ref: s.status for s in progress.actions}
    assert statuses == {
        "start": "succeeded",
        "items": "skipped",
        "inside": "skipped",
        "collect": "skipped",
        "after": "skipped",
    }


def _deep_scatter(levels: int, timeout: int) -> str:
    """Return ``levels`` nested single-item scatters of long refs around one HTTP call."""
    refs = [f"level_{n}_" + "x" * 110 for n in range(levels)]
    lines = []
    for n, ref in enumerate(refs):
        # Level n scatters the one item of level n - 1: lists nested `levels` deep.
        source = "[" * levels + "1" + "]" * levels
        if n:
            source = f'"${{{{ ACTIONS.{refs[n - 1]}.result }}}}"'
        depends = f"\n    depends_on: [{refs[n - 1]}]" if n else ""
        lines.append(
            f"  - ref: {ref}\n    action: core.transform.scatter{depends}\n"
            f"    args: {{collection: {source}}}\n"
        )
    lines.append(
        f"  - ref: call\n    action: core.http_request\n    depends_on: [{refs[-1]}]\n"
        f"    retry_policy: {{timeout: {timeout}}}\n"
        '    args: {url: "${{ TRIGGER.base }}/item", params: {value: deep}}\n'
    )
    previous = "call"
    for n in reversed(range(levels)):
        gather = f"back_{n}"
        lines.append(
            f"  - ref: {gather}\n    action: core.transform.gather\n    depends_on: [{previous}]\n"
            f'    args: {{items: "${{{{ ACTIONS.{previous}.result }}}}"}}\n'
        )
        previous = gather
    return doc("".join(lines), f"'${{{{ ACTIONS.{previous}.result }}}}'")


@pytest.mark.parametrize("timeout", [30, 400], ids=["local activity", "regular activity"])
async def test_an_action_nested_past_temporals_id_limit_still_runs(
    engine: Engine, base_url: str, timeout: int
) -> None:
    # Nine levels of 118-character scatter refs: the action's activity id (the stream of items
    # it runs in, its ref, its attempt) passes Temporal's 1,000 characters.
    document = _deep_scatter(9, timeout)
    run = await engine.start(document, {"base": base_url})
    result = await asyncio.wait_for(wait_result(run), 60)
    inner: Any = result
    for _ in range(9):
        assert isinstance(inner, list) and len(inner) == 1
        inner = inner[0]
    assert inner["data"] == {"seen": "deep"}
