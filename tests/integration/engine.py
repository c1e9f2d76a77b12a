"""Helpers for engine tests: run a workflow document on the session's real dev server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from keel.dsl.loader import parse_workflow
from keel.orchestration.client import StartedRun, progress, start_run, wait_result
from keel.orchestration.payloads import RunProgress


@dataclass
class Engine:
    """Starts runs on one test's task queue (a worker for it runs in the fixture)."""

    client: Client
    task_queue: str

    async def start(self, document: str, trigger: Any = None) -> StartedRun:
        workflow = parse_workflow(document)
        return await start_run(
            self.client, workflow, task_queue=self.task_queue, trigger=trigger, eager=True
        )

    async def run(self, document: str, trigger: Any = None) -> Any:
        return await wait_result(await self.start(document, trigger))

    async def progress(self, run: StartedRun) -> RunProgress:
        return await progress(run)

    async def history_text(self, run: StartedRun) -> str:
        history = await run.handle.fetch_history()
        return json.dumps(history.to_json_dict())
