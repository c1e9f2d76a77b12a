"""Large results stay out of Temporal's history: stored in Keel's store, read back transparently.

Every run here exchanges a 3 MB value, above Temporal's 2 MB payload limit, so a run that
succeeds shows the value never entered the history; the history is then scanned to prove it,
and replayed by a fresh converter that must fetch the value from the store.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from keel.config import Settings
from keel.execution.local import LocalExecutor
from keel.orchestration.catalog import DirectoryCatalog
from keel.orchestration.connection import connect, data_converter
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.payload_storage import MissingPayloadError
from keel.orchestration.payloads import run_result
from keel.orchestration.worker import build_worker, sandbox_runner
from keel.orchestration.workflow import KeelRun
from keel.store.blobs import get_blob
from keel.store.database import Database
from tests.integration.engine import Engine
from tests.integration.store.conftest import PG_URL, pg_connect

pytestmark = pytest.mark.integration

SIZE = 3_000_000
THRESHOLD = 32 * 1024
REFERENCE = b"temporal.api.sdk.v1.ExternalStorageReference"

BIG = f"""
title: big
description: makes a 3 MB string and passes it on
actions:
  - ref: big
    action: core.transform.apply
    args: {{value: {SIZE}, python_lambda: "lambda n: 'x' * n"}}
  - ref: measured
    action: core.transform.apply
    depends_on: [big]
    args: {{value: "${{{{ ACTIONS.big.result }}}}", python_lambda: "lambda s: len(s)"}}
  - ref: counted
    action: core.transform.reshape
    depends_on: [big]
    args: {{value: "${{{{ FN.length(ACTIONS.big.result) }}}}"}}
returns:
  measured: ${{{{ ACTIONS.measured.result }}}}
  counted: ${{{{ ACTIONS.counted.result }}}}
  tail: ${{{{ ACTIONS.big.result }}}}
"""

CHILD = """
title: echo
description: returns the text it was given, and its length
entrypoint:
  expects: {text: {type: str}}
actions:
  - ref: length
    action: core.transform.apply
    args: {value: "${{ TRIGGER.text }}", python_lambda: "lambda s: len(s)"}
returns: {length: "${{ ACTIONS.length.result }}", text: "${{ TRIGGER.text }}"}
"""

PARENT = f"""
title: parent
description: hands a 3 MB string to a child and gets it back
actions:
  - ref: big
    action: core.transform.apply
    args: {{value: {SIZE}, python_lambda: "lambda n: 'y' * n"}}
  - ref: child
    action: core.workflow.execute
    depends_on: [big]
    args:
      workflow_alias: echo
      trigger_inputs: {{text: "${{{{ ACTIONS.big.result }}}}"}}
returns:
  length: ${{{{ ACTIONS.child.result.length }}}}
  same: ${{{{ ACTIONS.child.result.text == ACTIONS.big.result }}}}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings whose store is a SQLite file, or a PostgreSQL database, of this test's own."""
    if request.param == "sqlite":
        yield Settings(home=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'keel.db'}")
        return
    name = f"keel_{uuid.uuid4().hex[:12]}"
    admin = await pg_connect()
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield Settings(home=tmp_path, database_url=PG_URL.replace("/test", f"/{name}"))
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


@pytest.fixture
async def client(temporal_server: TemporalDevServer, settings: Settings) -> Client:
    return await connect(settings, temporal_server.address)


@pytest.fixture
async def engine(client: Client, task_queue: str, tmp_path: Path) -> AsyncIterator[Engine]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "echo.yml").write_text(CHILD)
    catalog = DirectoryCatalog([folder])
    async with build_worker(client, task_queue, LocalExecutor(), catalog=catalog):
        yield Engine(client, task_queue)


def payloads(history: WorkflowHistory) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(message type, data)`` of every payload anywhere in a history."""

    def walk(node: Any) -> Iterator[tuple[bytes, bytes]]:
        if isinstance(node, dict):
            if "data" in node and isinstance(node.get("metadata"), dict):
                kind = base64.b64decode(node["metadata"].get("messageType", ""))
                yield kind, base64.b64decode(node.get("data", ""))
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    yield from walk(history.to_json_dict())


def assert_small(history: WorkflowHistory) -> int:
    """Assert no payload in ``history`` is above the threshold; return how many are references."""
    found = list(payloads(history))
    assert found, "the history has no payloads at all: the scan is broken"
    biggest = max(len(data) for _, data in found)
    assert biggest <= THRESHOLD, f"a {biggest}-byte payload is in the history"
    return sum(1 for kind, _ in found if kind == REFERENCE)


async def test_a_large_result_is_read_back_by_later_actions_and_returned(
    engine: Engine, settings: Settings
) -> None:
    run = await engine.start(BIG)
    result = run_result(await run.handle.result())
    assert result["measured"] == SIZE  # an activity received the whole value as its argument
    assert result["counted"] == SIZE  # an expression in the workflow read it
    assert result["tail"] == "x" * SIZE  # and the run's result carries it back to the caller
    history = await run.handle.fetch_history()
    # The action's result (local-activity marker) and the run's result are references.
    assert assert_small(history) >= 2
    # Each reference names a blob that really is in this test's store.
    keys = [
        json.loads(data)["claimData"]["key"]
        for kind, data in payloads(history)
        if kind == REFERENCE
    ]
    async with Database.from_settings(settings) as database, database.session() as session:
        for key in keys:
            assert await get_blob(session, key) is not None


async def test_a_replay_with_a_fresh_converter_reads_the_values_from_the_store(
    engine: Engine, settings: Settings
) -> None:
    run = await engine.start(BIG)
    await run.handle.result()
    history = await run.handle.fetch_history()
    fresh = data_converter(settings)  # an empty cache: every reference is fetched from SQLite
    replayer = Replayer(workflows=[KeelRun], workflow_runner=sandbox_runner(), data_converter=fresh)
    await replayer.replay_workflow(history)  # raises on any difference from the recorded run


async def test_a_child_gets_a_large_input_and_returns_it(engine: Engine) -> None:
    run = await engine.start(PARENT)
    assert run_result(await run.handle.result()) == {"length": SIZE, "same": True}
    assert assert_small(await run.handle.fetch_history()) >= 1
    child = engine.client.get_workflow_handle(f"{run.handle.id}--child")
    child_history = await child.fetch_history()
    # The child's input and its result are references.
    assert assert_small(child_history) >= 2


async def test_without_the_store_a_reference_is_a_clear_error(
    engine: Engine, temporal_server: TemporalDevServer, tmp_path: Path
) -> None:
    run = await engine.start(BIG)
    await run.handle.result()
    other = Settings(home=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    stranger = await connect(other, temporal_server.address)
    with pytest.raises(MissingPayloadError, match=r"is not in Keel's store"):
        await stranger.get_workflow_handle(run.handle.id).result()


async def test_a_10000_item_for_each_returns_its_whole_result(engine: Engine) -> None:
    document = """
title: wide
description: 10,000 records made in the workflow and returned whole
actions:
  - ref: items
    action: core.transform.reshape
    args: {value: "${{ FN.range(0, 10000) }}"}
  - ref: records
    action: core.transform.reshape
    depends_on: [items]
    for_each: ${{ for var.i in ACTIONS.items.result }}
    args: {value: {id: "${{ var.i }}", name: "host-${{ var.i }}.example.internal"}}
returns: ${{ ACTIONS.records.result }}
"""
    run = await engine.start(document)
    records = run_result(await run.handle.result())
    assert len(records) == 10_000
    assert records[9_999] == {"id": 9_999, "name": "host-9999.example.internal"}
    history = await run.handle.fetch_history()
    assert assert_small(history) == 1  # the run's result (~400 KB) is a reference
    assert len(history.events) < 20
