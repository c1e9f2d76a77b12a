"""The embedded dev server's run list without its unused slot indexes: the real CLI server."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from keel.orchestration import devserver
from keel.orchestration.devserver import TemporalDevServer
from keel.orchestration.visibility_indexes import slot_indexes

pytestmark = pytest.mark.integration

PROBE = SearchAttributeKey.for_keyword("KeelProbe")


def indexes_of(db_file: Path) -> tuple[list[str], set[str]]:
    """Return the store's slot indexes and all of its run-list indexes."""
    connection = sqlite3.connect(db_file.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        every = {
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master"
                " WHERE type = 'index' AND tbl_name = 'executions_visibility'"
            )
        }
        return sorted(slot_indexes(connection)), every
    finally:
        connection.close()


async def test_a_store_made_with_the_slot_indexes_loses_them_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store as the CLI makes it (and as Keel made it before it dropped them)...
    db_file = tmp_path / "temporal.db"
    with monkeypatch.context() as patched:
        patched.setattr(devserver, "drop_unused_slot_indexes", lambda db_file: 0)
        async with TemporalDevServer(db_file=db_file, log_file=tmp_path / "t.log"):
            pass
    dropped, before = indexes_of(db_file)
    assert len(dropped) >= 30, dropped  # Temporal 1.32 makes 35

    # ...then started by Keel: those go, every other index stays.
    async with TemporalDevServer(db_file=db_file, log_file=tmp_path / "t.log"):
        slots, after = indexes_of(db_file)
    assert slots == []
    assert after == before - set(dropped)
    assert {"default_idx", "by_workflow_id", "by_status", "by_temporal_scheduled_by_id"} <= after


async def test_a_list_filtered_on_a_search_attribute_registered_later_still_answers(
    tmp_path: Path,
) -> None:
    async with TemporalDevServer(db_file=tmp_path / "temporal.db") as server:
        client = await Client.connect(server.address)
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default",
                search_attributes={"KeelProbe": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
            )
        )
        tag = uuid.uuid4().hex[:8]
        wanted = await start_tagged(client, f"probe-a-{tag}", "a")
        await start_tagged(client, f"probe-b-{tag}", "b")
        found: list[str] = []
        for _ in range(100):  # the run list is written shortly after the starts
            found = [run.id async for run in client.list_workflows("KeelProbe = 'a'")]
            if found:
                break
            await asyncio.sleep(0.1)
        assert found == [wanted]
        assert indexes_of(server.db_file)[0] == []  # registering one made no index again


async def start_tagged(client: Client, workflow_id: str, value: str) -> str:
    """Start a run (no worker: it stays open) tagged ``KeelProbe=value``; return its id.

    The dev server's search-attribute cache learns of the new attribute at its next refresh,
    so a start is refused until then (seconds).
    """
    attributes = TypedSearchAttributes([SearchAttributePair(PROBE, value)])
    for _ in range(300):
        try:
            await client.start_workflow(
                "keel.probe",
                id=workflow_id,
                task_queue="nobody-polls-this",
                search_attributes=attributes,
            )
            return workflow_id
        except RPCError as exc:
            if "KeelProbe" not in str(exc):
                raise
            await asyncio.sleep(0.1)
    raise AssertionError("the server never accepted the registered search attribute")
