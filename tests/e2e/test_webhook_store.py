"""What a webhook delivery asks of the store: one read and one write, nothing else.

The hot path's promise (README, Performance): the webhook, its secret, settings and latest version
in one query; the parsed definition and ``VARS`` from the process's caches; the run summary in one
``INSERT`` without a prior read. Counted here as SQL statements sent to the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from keel.api.state import ServiceState
from tests.e2e.conftest import commit, path_of
from tests.integration.store.conftest import BACKENDS

pytestmark = pytest.mark.integration

ECHO = """\
title: Echo
description: returns its trigger and a variable
triggers:
  - type: webhook
    ref: hook
    args: {wait_timeout_seconds: 20, idempotency: {header: X-Delivery}}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: {got: "${{ TRIGGER }}", team: "${{ VARS.team.name }}"}}
returns: ${{ ACTIONS.echo.result }}
"""


@contextmanager
def statements(service: ServiceState) -> Iterator[list[str]]:
    """Collect the SQL statements the service's database runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split())[:80])

    engine = service.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_a_delivery_reads_once_and_writes_once(
    api: httpx.AsyncClient, service: ServiceState
) -> None:
    made = await api.post("/variables", json={"name": "team", "values": {"name": "blue"}})
    assert made.status_code == 201, made.text
    hook = path_of((await commit(api, ECHO, "echo"))["webhook_url"])
    first = await api.post(hook + "/wait", json={"n": 1})  # fills the caches
    assert first.json()["result"] == {"got": {"n": 1}, "team": "blue"}, first.text

    with statements(service) as seen:
        waited = await api.post(hook + "/wait", json={"n": 2})
    assert waited.json()["result"] == {"got": {"n": 2}, "team": "blue"}, waited.text
    kinds = [text.split()[0].upper() for text in seen]
    assert kinds == ["SELECT", "INSERT"], seen

    # A redelivery (same key) starts nothing and leaves the first row; only the insert that found
    # its row taken reads, to tell a redelivery from another run holding the key.
    keyed = await api.post(hook, json={"n": 3}, headers={"X-Delivery": "d-1"})
    with statements(service) as seen:
        again = await api.post(hook, json={"n": 3}, headers={"X-Delivery": "d-1"})
    assert again.json()["execution_id"] == keyed.json()["execution_id"]
    assert [text.split()[0].upper() for text in seen] == ["SELECT", "INSERT", "SELECT"], seen
    rows = (await api.get("/runs", params={"workflow": "echo"})).json()["items"]
    assert [r["execution_id"] for r in rows].count(keyed.json()["execution_id"]) == 1
