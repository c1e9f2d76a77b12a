"""Keel's workers give a workflow activation more than the SDK's 2 s before calling it a deadlock."""

from __future__ import annotations

import pytest
from temporalio.client import Client

from keel.execution.local import LocalExecutor
from keel.orchestration.worker import DEADLOCK_SECONDS, build_orchestrator, build_worker

pytestmark = pytest.mark.integration


async def test_both_kinds_of_worker_get_the_longer_deadlock_timeout(
    temporal_client: Client, task_queue: str
) -> None:
    for worker in (
        build_worker(temporal_client, task_queue, LocalExecutor()),
        build_orchestrator(temporal_client, task_queue),
    ):
        # The SDK's private attribute (temporalio pinned < 1.36): if a release renames it, this
        # fails, rather than Keel's workers silently falling back to 2 s.
        workflows = worker._workflow_worker
        assert workflows is not None
        assert workflows._deadlock_timeout_seconds == DEADLOCK_SECONDS
    assert 2 < DEADLOCK_SECONDS < 10  # over the SDK's default, under a workflow task's timeout
