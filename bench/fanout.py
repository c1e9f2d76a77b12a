"""``python -m bench.fanout``: large fan-outs through Keel, items/s (a table, not a test).

Two shapes from the child-workflows issue: a 10,000-item pure ``for_each`` (``core.transform.
reshape``, evaluated in the workflow) and a 1,000-child fan-out (``core.workflow.execute`` with
``loop_strategy: parallel``, each child a one-step workflow). Target for the pure one: >= 1,000
items/s on this machine. Each is run after a warm-up of a smaller size (``--reps`` times, the median
is shown); the whole run's time, from start to result, is what counts. For the child fan-out the
table also gives the largest history involved (the parent's or a relay run's), in events and
bytes: Temporal caps a run's history at about 50,000 events / 50 MB.

Examples::

    python -m bench.fanout                                  # both, defaults
    python -m bench.fanout --only children --children 10000 # the 10,000-child fan-out alone
    python -m bench.fanout --only children --reps 3         # median of 3 runs of 1,000 children
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError

from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration.catalog import DirectoryCatalog
from keel.orchestration.client import StartedRun, start_run, wait_result
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.worker import build_worker

PURE = """
title: pure fan-out
description: n items through an in-workflow transform
actions:
  - ref: items
    action: core.transform.reshape
    args: {{value: "${{{{ FN.range(0, {n}) }}}}"}}
  - ref: each
    action: core.transform.reshape
    depends_on: [items]
    for_each: ${{{{ for var.i in ACTIONS.items.result }}}}
    args: {{value: {{i: "${{{{ var.i }}}}", square: "${{{{ var.i * var.i }}}}"}}}}
returns: ${{{{ FN.length(ACTIONS.each.result) }}}}
"""

CHILDREN = """
title: child fan-out
description: n child runs at once
actions:
  - ref: items
    action: core.transform.reshape
    args: {{value: "${{{{ FN.range(0, {n}) }}}}"}}
  - ref: kids
    action: core.workflow.execute
    depends_on: [items]
    for_each: ${{{{ for var.i in ACTIONS.items.result }}}}
    args:
      workflow_alias: leaf
      trigger_inputs: {{i: "${{{{ var.i }}}}"}}
      loop_strategy: parallel
returns: ${{{{ FN.length(ACTIONS.kids.result) }}}}
"""

LEAF = """
title: leaf
description: one step
actions:
  - ref: one
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.i }}"}
returns: ${{ ACTIONS.one.result }}
"""


async def _timed(client: Client, queue: str, document: str, n: int) -> tuple[float, StartedRun]:
    started = time.perf_counter()
    run = await start_run(client, parse_workflow(document), task_queue=queue, eager=True)
    count = await wait_result(run)
    if count != n:
        raise AssertionError(f"expected {n} results, got {count}")
    return time.perf_counter() - started, run


async def _largest_history(client: Client, run: StartedRun) -> tuple[str, int, int]:
    """Return (which run, events, bytes) of the largest history among the parent and its relays.

    Relay runs are named ``{parent}--kids-relay{start}`` (see ``ChildLauncher._relay``); the first
    relay of each level is representative (every full relay starts the same number of children).
    """
    candidates = [run.execution_id]
    level = [run.execution_id]
    while level:  # follow relay0 of each level down, as deep as relays go
        nested = f"{level[0]}--kids-relay0"
        try:
            await client.get_workflow_handle(nested).describe()
        except RPCError:
            break
        candidates.append(nested)
        level = [nested]
    best = ("", 0, 0)
    for execution_id in candidates:
        history = await client.get_workflow_handle(execution_id).fetch_history()
        size = sum(event.ByteSize() for event in history.events)
        if len(history.events) > best[1]:
            best = (
                execution_id.removeprefix(run.execution_id) or "parent",
                len(history.events),
                size,
            )
    return best


async def main(pure: int, children: int, only: str | None, reps: int) -> None:
    """Run the fan-outs on a fresh dev server and print items/s (median of ``reps`` runs)."""
    pure_times: list[float] = []
    child_times: list[float] = []
    largest = ("", 0, 0)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "leaf.yml").write_text(LEAF)
        async with TemporalDevServer(db_file=Path(folder) / "t.db") as server:
            client = await Client.connect(server.address)
            queue = f"fanout-{uuid.uuid4().hex[:8]}"
            catalog = DirectoryCatalog([Path(folder)])
            async with build_worker(client, queue, LocalExecutor(), catalog=catalog):
                if only in (None, "pure"):
                    await _timed(client, queue, PURE.format(n=100), 100)
                    for _ in range(reps):
                        seconds, _run = await _timed(client, queue, PURE.format(n=pure), pure)
                        pure_times.append(seconds)
                if only in (None, "children"):
                    await _timed(client, queue, CHILDREN.format(n=10), 10)
                    for _ in range(reps):
                        document = CHILDREN.format(n=children)
                        seconds, run = await _timed(client, queue, document, children)
                        child_times.append(seconds)
                    largest = await _largest_history(client, run)
    table = Table(title=f"Large fan-outs through Keel (median of {reps}, after a warm-up)")
    for column in ("scenario", "items", "seconds", "items/s", "largest history", "target"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    if pure_times:
        pure_s = statistics.median(pure_times)
        table.add_row(
            "pure for_each (reshape)",
            f"{pure:,}",
            f"{pure_s:.2f}",
            f"{pure / pure_s:,.0f}",
            "-",
            ">= 1,000",
        )
    if child_times:
        child_s = statistics.median(child_times)
        which, events, size = largest
        table.add_row(
            "child fan-out (parallel)",
            f"{children:,}",
            f"{child_s:.2f}",
            f"{children / child_s:,.0f}",
            f"{events:,} events, {size / 1e6:.1f} MB ({which})",
            "-",
        )
    Console().print(table)
    if reps > 1:
        for name, times in (("pure", pure_times), ("children", child_times)):
            if times:
                print(f"{name}: " + ", ".join(f"{t:.2f}" for t in times) + " s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pure", type=int, default=10_000, help="items of the pure for_each")
    parser.add_argument("--children", type=int, default=1_000, help="children of the fan-out")
    parser.add_argument("--only", choices=["pure", "children"], help="run only one scenario")
    parser.add_argument("--reps", type=int, default=1, help="timed runs per scenario (median)")
    args = parser.parse_args()
    asyncio.run(main(args.pure, args.children, args.only, args.reps))
