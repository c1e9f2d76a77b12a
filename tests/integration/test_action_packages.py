"""A user's action package (installed, found through its entry point) runs on both executors.

The package is tests/fixtures/keel_sample_actions, installed with ``pip install -e`` (see
tests/integration/action_package.py). The workers here use the default registry, as ``keel up``
and ``keel worker`` do: nothing is registered by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import Client

from keel.actions.registry import default_registry
from keel.config import Settings
from keel.dsl.validation import validate_text
from keel.execution.base import Executor
from keel.execution.local import LocalExecutor
from keel.execution.ray import RayExecutor
from keel.orchestration.client import RunFailedError
from keel.orchestration.secrets import FileSecrets
from keel.orchestration.worker import build_worker
from tests.integration.engine import Engine

pytestmark = pytest.mark.integration

FLOW = """
title: sample package
description: actions from an installed package
entrypoint: {ref: greet}
actions:
  - ref: greet
    action: sample.greetings.greet
    args: {name: "${{ TRIGGER.name }}"}
  - ref: lookup
    action: sample.intel.lookup
    depends_on: [greet]
    args: {ip: 192.0.2.1}
  - ref: where
    action: sample.info.process
    depends_on: [lookup]
returns:
  greeting: ${{ ACTIONS.greet.result }}
  lookup: ${{ ACTIONS.lookup.result }}
  pid: ${{ ACTIONS.where.result.pid }}
"""


def secrets_file(tmp_path: Path, *, with_intel: bool = True) -> FileSecrets:
    path = tmp_path / "secrets.yml"
    path.write_text(
        "default: {sample_intel: {api_key: s3cret}}\n" if with_intel else "default: {}\n"
    )
    return FileSecrets(path)


async def run_flow(
    client: Client, task_queue: str, executor: Executor, secrets: FileSecrets
) -> object:
    async with build_worker(client, task_queue, executor, secrets):
        return await Engine(client, task_queue).run(FLOW, {"name": "Ada"})


def test_the_installed_package_is_in_the_default_registry() -> None:
    registry = default_registry()
    spec = registry.get("sample.greetings.greet")
    assert spec.kind == "python"
    assert spec.title == "Greet someone"
    assert spec.display_group == "Sample"
    assert spec.namespace == "sample.greetings"
    assert [p.description for p in spec.parameters] == ["Who to greet", "What ends the greeting"]
    assert [s.name for s in registry.required_secrets("sample.intel.lookup")] == ["sample_intel"]
    assert not [p for p in registry.problems if "keel_sample_actions" in p.source]
    # The commit-time checks see it too.
    assert validate_text(FLOW, registry).ok


async def test_a_package_action_runs_on_the_local_executor(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    executor = LocalExecutor()
    try:
        result = await run_flow(temporal_client, task_queue, executor, secrets_file(tmp_path))
    finally:
        await executor.close()
    assert result == {
        "greeting": "Hello, Ada!",
        "lookup": {"ip": "192.0.2.1", "authorized": True, "key_length": 6},
        "pid": os.getpid(),
    }


async def test_a_package_action_runs_on_ray(
    temporal_client: Client, task_queue: str, tmp_path: Path, ray_cluster: None
) -> None:
    # The default registry: only the action's name travels; the Ray worker imports the
    # package itself (it shares this virtualenv), and gets the declared secret with the call.
    executor = RayExecutor(Settings(executor="ray"))
    try:
        result = await run_flow(temporal_client, task_queue, executor, secrets_file(tmp_path))
    finally:
        await executor.close()
    assert isinstance(result, dict)
    assert result["greeting"] == "Hello, Ada!"
    assert result["lookup"] == {"ip": "192.0.2.1", "authorized": True, "key_length": 6}
    assert result["pid"] != os.getpid()


async def test_a_missing_declared_secret_fails_the_call_by_name(
    temporal_client: Client, task_queue: str, tmp_path: Path
) -> None:
    executor = LocalExecutor()
    try:
        with pytest.raises(RunFailedError) as info:
            await run_flow(
                temporal_client, task_queue, executor, secrets_file(tmp_path, with_intel=False)
            )
    finally:
        await executor.close()
    message = str(info.value)
    assert "lookup" in message
    assert "needs secret 'sample_intel' (keys: api_key) in environment 'default'" in message
