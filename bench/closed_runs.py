"""``python -m bench.closed_runs``: the first read of a finished run with a 1,000-item ``for_each``.

Runs three such workflows (Keel's store holds large payloads, as in production), then reads
each run's details (``describe_run``) and its first page of items (``action_items``) the way
``GET /runs/{id}`` and ``GET /runs/{id}/actions/{ref}/items`` do: twice with a fresh worker
(nothing cached, as after a restart), once with no worker at all. A closed run is read from its
close event; before that, each read was a query that a worker answered by replaying the run's
whole history (and that failed after Temporal's timeout without a worker). A table, not a test;
the machine's load shows in the figures.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError

from keel.config import Settings
from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.connection import connect
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.inspection import action_items, describe_run
from keel.orchestration.worker import build_worker

DOCUMENT = """
title: wide
description: 1,000 items, each a local activity
actions:
  - ref: each
    action: core.transform.reshape
    for_each: ${{ for var.n in FN.range(0, 1000) }}
    args: {value: {n: "${{ var.n }}", label: "item ${{ var.n }}"}}
"""


async def _read(client: Client, execution_id: str) -> tuple[float, float, str]:
    """Return the seconds the details and the first items page took, and what was read."""
    start = time.perf_counter()
    detail = await describe_run(client, execution_id)
    middle = time.perf_counter()
    try:
        page = f"{(await action_items(client, execution_id, 'each', limit=100)).total} items"
    except RPCError as exc:
        page = f"items: {exc.message[:40]}"
    end = time.perf_counter()
    return middle - start, end - middle, f"{detail.actions[0].status}, {page}"


async def main() -> None:
    """Run the workflows, read them back, print the table."""
    table = Table("read", "details (s)", "items page (s)", "what was read")
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        settings = Settings(home=home, database_url=f"sqlite+aiosqlite:///{home / 'keel.db'}")
        async with TemporalDevServer(db_file=home / "temporal.db") as server:
            client = await connect(settings, server.address)
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            workflow = parse_workflow(DOCUMENT)
            ids = []
            async with build_worker(client, queue, LocalExecutor()):
                for _ in range(3):
                    run = await start_run(client, workflow, task_queue=queue)
                    await wait_result(run)
                    ids.append(run.execution_id)
            async with build_worker(client, queue, LocalExecutor()):  # fresh: nothing cached
                for execution_id in ids[:2]:
                    details, items, what = await _read(client, execution_id)
                    table.add_row("fresh worker", f"{details:.3f}", f"{items:.3f}", what)
            details, items, what = await _read(client, ids[2])
            table.add_row("no worker", f"{details:.3f}", f"{items:.3f}", what)
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
