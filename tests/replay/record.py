"""Record the histories of the replay scenarios: ``.venv/bin/python -m tests.replay.record``.

Give scenario names to record only those (``... record do_while_passes``); by default, all.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client

from keel.dsl.loader import parse_workflow
from keel.execution.local import LocalExecutor
from keel.orchestration.client import start_run, wait_result
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.worker import build_worker
from tests.replay.scenarios import SCENARIOS

HISTORIES = Path(__file__).parent / "histories"


async def record(names: list[str]) -> None:
    """Run the named scenarios (all when none is named) on a fresh dev server; write each history."""
    with tempfile.TemporaryDirectory() as folder:
        async with TemporalDevServer(db_file=Path(folder) / "t.db") as server:
            client = await Client.connect(server.address)
            queue = f"record-{uuid.uuid4().hex[:8]}"
            async with build_worker(client, queue, LocalExecutor()):
                for name, (document, trigger) in SCENARIOS.items():
                    if names and name not in names:
                        continue
                    run = await start_run(
                        client,
                        parse_workflow(document),
                        task_queue=queue,
                        trigger=trigger,
                        execution_id=f"replay-{name}",
                    )
                    await wait_result(run)
                    history = await run.handle.fetch_history()
                    path = HISTORIES / f"{name}.json"
                    path.write_text(json.dumps(history.to_json_dict(), indent=1) + "\n")
                    print(f"recorded {path}")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
