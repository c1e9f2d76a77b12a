"""What a webhook delivery asks of the store: one read and one write (two for the 202 form).

The hot path's promise (README, Performance): the webhook, its secret, settings and latest version
in one query; the parsed definition and ``VARS`` from the process's caches; the run summary in one
``INSERT`` without a prior read, and for the plain (202) form the run's outbox entry in a second
one, in the same transaction. Counted here as SQL statements sent to the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from keel.api.state import ServiceState
from tests.e2e.conftest import commit, eventually, path_of
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


#: The outbox's count (for KEEL_OUTBOX_MAX), at most once a second per process.
COUNT = "SELECT count(*) AS count_1 FROM outbox"


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
    assert kinds == ["INSERT"], seen  # the target was found moments ago

    service.targets.clear()  # as when KEEL_WEBHOOK_CACHE_SECONDS has passed
    with statements(service) as seen:
        waited = await api.post(hook + "/wait", json={"n": 2})
    assert waited.status_code == 200, waited.text
    assert [text.split()[0].upper() for text in seen] == ["SELECT", "INSERT"], seen
    service.targets.clear()

    # The plain form accepts: the run summary and its outbox entry, nothing read first (but a
    # count of the outbox for its bound, at most once a second). The relay's start and settling
    # write come after the answer: kept out of the count.
    service.relay.stop()
    with statements(service) as seen:
        keyed = await api.post(hook, json={"n": 3}, headers={"X-Delivery": "d-1"})
    service.relay.start()
    assert keyed.status_code == 202, keyed.text
    kinds = [text.split()[0].upper() for text in seen if not text.startswith(COUNT)]
    assert kinds == ["SELECT", "INSERT", "INSERT"], seen
    await eventually(lambda: _idle(service))

    # A redelivery (same key) starts nothing and leaves the first row; only the insert that found
    # its row taken reads, to tell a redelivery from another run holding the key.
    service.targets.clear()
    with statements(service) as seen:
        again = await api.post(hook, json={"n": 3}, headers={"X-Delivery": "d-1"})
    assert again.json()["execution_id"] == keyed.json()["execution_id"]
    assert [text.split()[0].upper() for text in seen] == ["SELECT", "INSERT", "SELECT"], seen
    rows = (await api.get("/runs", params={"workflow": "echo"})).json()["items"]
    assert [r["execution_id"] for r in rows].count(keyed.json()["execution_id"]) == 1


async def _idle(service: ServiceState) -> bool:
    return service.relay.holding == 0
