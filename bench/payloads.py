"""``python -m bench.payloads``: what large values cost when they live in Keel's store.

One workflow per size: an action makes a string of N bytes (``core.transform.apply``, an
activity), a second activity receives it whole as its argument, an expression reads its length,
and the run returns it. Values above ``KEEL_LARGE_PAYLOAD_BYTES`` (32 KiB) travel as references
and are written to (and read back from) the store; the table shows the time per run and the size
of the run's history, which stays small whatever the value's size. Above 2 MB the run could not
happen at all without the store (Temporal's payload limit). A table, not a test.
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

from keel.config import Settings
from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.connection import connect
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.worker import build_worker

DOCUMENT = """
title: payload {n}
description: a {n}-byte value through two activities and an expression
actions:
  - ref: make
    action: core.transform.apply
    args: {{value: {n}, python_lambda: "lambda n: 'x' * n"}}
  - ref: measure
    action: core.transform.apply
    depends_on: [make]
    args: {{value: "${{{{ ACTIONS.make.result }}}}", python_lambda: "lambda s: len(s)"}}
returns:
  length: ${{{{ FN.length(ACTIONS.make.result) }}}}
  measured: ${{{{ ACTIONS.measure.result }}}}
  value: ${{{{ ACTIONS.make.result }}}}
"""

SIZES = (1_000, 100_000, 1_000_000, 10_000_000)


async def _one(client: Client, queue: str, n: int) -> tuple[float, int]:
    """Run the document for ``n`` bytes once; return (seconds, history bytes)."""
    started = time.perf_counter()
    run = await start_run(client, parse_workflow(DOCUMENT.format(n=n)), task_queue=queue)
    result = await wait_result(run)
    seconds = time.perf_counter() - started
    if result["length"] != n or result["measured"] != n or len(result["value"]) != n:
        raise AssertionError(f"the {n}-byte value did not come back whole")
    history = await run.handle.fetch_history()
    return seconds, sum(event.ByteSize() for event in history.events)


async def main(repeat: int) -> None:
    """Run each size ``repeat`` times on a fresh dev server and store; print the medians."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        settings = Settings(home=home, database_url=f"sqlite+aiosqlite:///{home / 'keel.db'}")
        async with TemporalDevServer(db_file=home / "t.db") as server:
            client = await connect(settings, server.address)
            queue = f"payloads-{uuid.uuid4().hex[:8]}"
            async with build_worker(client, queue, LocalExecutor()):
                await _one(client, queue, 100_000)  # warm-up: opens and migrates the store
                for n in SIZES:
                    samples = [await _one(client, queue, n) for _ in range(repeat)]
                    seconds = statistics.median(s for s, _ in samples)
                    rows.append((n, seconds, samples[0][1]))
    table = Table(title=f"A value through 2 activities and back (median of {repeat})")
    for column in ("value bytes", "ms per run", "history bytes", "in the store"):
        table.add_column(column, justify="right")
    for n, seconds, history in rows:
        stored = "yes" if n > settings.large_payload_bytes else "no"
        table.add_row(f"{n:,}", f"{seconds * 1000:.1f}", f"{history:,}", stored)
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(parser.parse_args().repeat))
