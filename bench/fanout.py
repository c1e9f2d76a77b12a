"""``python -m bench.fanout``: large fan-outs through Keel, items/s (a table, not a test).

Two shapes from the child-workflows issue: a 10,000-item pure ``for_each`` (``core.transform.
reshape``, evaluated in the workflow) and a 1,000-child fan-out (``core.workflow.execute`` with
``loop_strategy: parallel``, each child a one-step workflow). Target for the pure one: >= 1,000
items/s on this machine. Each is run once after a warm-up of a smaller size; the whole run's time,
from start to result, is what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from temporalio.client import Client

from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration.catalog import DirectoryCatalog
from keel.orchestration.client import start_run, wait_result
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


async def _timed(client: Client, queue: str, document: str, n: int) -> float:
    started = time.perf_counter()
    run = await start_run(client, parse_workflow(document), task_queue=queue, eager=True)
    count = await wait_result(run)
    if count != n:
        raise AssertionError(f"expected {n} results, got {count}")
    return time.perf_counter() - started


async def main(pure: int, children: int) -> None:
    """Run both fan-outs on a fresh dev server and print items/s."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "leaf.yml").write_text(LEAF)
        async with TemporalDevServer(db_file=Path(folder) / "t.db") as server:
            client = await Client.connect(server.address)
            queue = f"fanout-{uuid.uuid4().hex[:8]}"
            catalog = DirectoryCatalog([Path(folder)])
            async with build_worker(client, queue, LocalExecutor(), catalog=catalog):
                await _timed(client, queue, PURE.format(n=100), 100)
                pure_s = await _timed(client, queue, PURE.format(n=pure), pure)
                await _timed(client, queue, CHILDREN.format(n=10), 10)
                child_s = await _timed(client, queue, CHILDREN.format(n=children), children)
    table = Table(title="Large fan-outs through Keel (one run each, after a warm-up)")
    for column in ("scenario", "items", "seconds", "items/s", "target"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    table.add_row(
        "pure for_each (reshape)", f"{pure:,}", f"{pure_s:.2f}", f"{pure / pure_s:,.0f}", ">= 1,000"
    )
    table.add_row(
        "child fan-out (parallel)",
        f"{children:,}",
        f"{child_s:.2f}",
        f"{children / child_s:,.0f}",
        "-",
    )
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pure", type=int, default=10_000)
    parser.add_argument("--children", type=int, default=1_000)
    args = parser.parse_args()
    asyncio.run(main(args.pure, args.children))
