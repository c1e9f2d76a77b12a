"""The plain webhook form through the outbox: accepted (queued) at once, started by a relay.

Every test here stops the relay of the API that accepts (as if its process died right after
the 202), or breaks its Temporal, and checks that the accepted run is not lost: it is listed and
inspected as ``queued``, and another API process (a second :class:`ServiceState` over the same
store) or the same one once Temporal is back starts it, and it completes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from keel.api import launcher
from keel.api.app import create_app
from keel.api.state import ServiceState
from keel.api.triggers_sync import install_trigger_hooks
from keel.store import apikeys
from keel.store.crypto import SecretCipher
from keel.store.database import Database
from keel.store.tables import OutboxRow
from tests.e2e.conftest import BASE_URL, PASSPHRASE, commit, eventually, path_of
from tests.integration.store.conftest import BACKENDS

pytestmark = pytest.mark.integration

DOUBLE = """\
title: Double
description: doubles n
entrypoint:
  expects:
    n: {type: int}
triggers:
  - type: webhook
    ref: hook
    args: {idempotency: {header: X-Delivery}}
actions:
  - ref: double
    action: core.transform.reshape
    args: {value: "${{ TRIGGER.n * 2 }}"}
returns: ${{ ACTIONS.double.result }}
"""


def state_of(service: ServiceState, **options: Any) -> ServiceState:
    """Return another API process's state over the same store, Temporal and task queue."""
    state = ServiceState(
        service.database,
        SecretCipher(PASSPHRASE),
        options.pop("temporal", service.temporal),
        service.task_queue,
        eager=True,
        **options,
    )
    install_trigger_hooks(state)
    return state


async def client_of(state: ServiceState) -> httpx.AsyncClient:
    """Return a client of ``state``'s app with a fresh API key."""
    async with state.database.session() as session:
        key = (await apikeys.create_api_key(session, "outbox tests")).key
    transport = httpx.ASGITransport(app=create_app(state))
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)


@pytest.fixture
async def dead(service: ServiceState) -> AsyncIterator[tuple[ServiceState, httpx.AsyncClient]]:
    """An API whose relay is stopped (its process "died" after answering), with a short lease."""
    state = state_of(service, outbox_lease=0.3)
    state.relay.stop()
    async with await client_of(state) as client:
        yield state, client
    await state.relay.close()


async def waiting(database: Database) -> list[str]:
    async with database.session() as session:
        return list((await session.scalars(select(OutboxRow.execution_id))).all())


async def ended(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any] | None:
    detail: dict[str, Any] = (await api.get(f"/runs/{execution_id}")).json()
    return None if detail["status"] in ("queued", "running") else detail


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_a_run_accepted_by_a_dead_api_is_queued_then_started_by_another(
    dead: tuple[ServiceState, httpx.AsyncClient], service: ServiceState, api: httpx.AsyncClient
) -> None:
    _, first = dead
    hook = path_of((await commit(first, DOUBLE, "double"))["webhook_url"])
    accepted = await first.post(hook, json={"n": 21})
    assert accepted.status_code == 202, accepted.text
    execution_id = accepted.json()["execution_id"]
    assert await waiting(service.database) == [execution_id]

    # Temporal does not know the run yet: every view says queued, none fails.
    detail = (await first.get(f"/runs/{execution_id}")).json()
    assert detail["status"] == "queued", detail
    assert detail["input"] == {"n": 21}
    assert [a["status"] for a in detail["actions"]] == ["pending"]
    assert "waiting for its start" in detail["notice"]
    listed = (await first.get("/runs", params={"status": "queued"})).json()["items"]
    assert [run["execution_id"] for run in listed] == [execution_id]
    assert (await first.get(f"/runs/{execution_id}/events")).json() == []
    refused = await first.post(f"/runs/{execution_id}/cancel")
    assert refused.status_code == 409 and "queued" in refused.json()["error"]["message"]
    await asyncio.sleep(0.4)  # the dead process's lease runs out

    # Another API process sweeps it up (as at its start, and every few seconds).
    assert await service.relay.sweep() == 1
    detail = await eventually(lambda: ended(api, execution_id))
    assert detail["status"] == "succeeded" and detail["result"] == 42, detail
    assert await waiting(service.database) == []
    listed = (await api.get("/runs", params={"status": "succeeded"})).json()["items"]
    assert [run["execution_id"] for run in listed] == [execution_id]


async def test_a_live_lease_is_not_swept_and_a_closed_relay_hands_its_runs_over(
    service: ServiceState, api: httpx.AsyncClient
) -> None:
    first = state_of(service, outbox_lease=60)
    first.relay.stop()
    async with await client_of(first) as client:
        hook = path_of((await commit(client, DOUBLE, "double"))["webhook_url"])
        execution_id = (await client.post(hook, json={"n": 1})).json()["execution_id"]
    assert (await api.get(f"/runs/{execution_id}")).json()["status"] == "queued"
    assert await service.relay.sweep() == 0  # still claimed by a live process
    await first.relay.close()  # a clean shutdown ends its leases
    assert await service.relay.sweep() == 1
    detail = await eventually(lambda: ended(api, execution_id))
    assert detail["status"] == "succeeded" and detail["result"] == 2


async def test_a_keyed_redelivery_while_queued_accepts_nothing_new(
    dead: tuple[ServiceState, httpx.AsyncClient], service: ServiceState, api: httpx.AsyncClient
) -> None:
    _, first = dead
    hook = path_of((await commit(first, DOUBLE, "double"))["webhook_url"])
    one = await first.post(hook, json={"n": 1}, headers={"X-Delivery": "d-1"})
    two = await first.post(hook, json={"n": 2}, headers={"X-Delivery": "d-1"})
    assert one.status_code == two.status_code == 202
    execution_id = one.json()["execution_id"]
    assert two.json()["execution_id"] == execution_id
    assert await waiting(service.database) == [execution_id]
    await asyncio.sleep(0.4)
    assert await service.relay.sweep() == 1
    detail = await eventually(lambda: ended(api, execution_id))
    assert detail["result"] == 2  # the first delivery's payload
    # Delivered again once it ran: the same run, nothing accepted, nothing started.
    three = await api.post(hook, json={"n": 3}, headers={"X-Delivery": "d-1"})
    assert three.json()["execution_id"] == execution_id
    assert await waiting(service.database) == []


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_a_full_outbox_refuses_with_503_and_retry_after(
    service: ServiceState,
) -> None:
    state = state_of(service, outbox_max=2)
    state.relay.stop()
    async with await client_of(state) as client:
        hook = path_of((await commit(client, DOUBLE, "double"))["webhook_url"])
        for n in range(2):
            assert (await client.post(hook, json={"n": n})).status_code == 202
        full = await client.post(hook, json={"n": 9})
        assert full.status_code == 503, full.text
        assert full.headers["Retry-After"] == "5"
        assert "KEEL_OUTBOX_MAX" in full.json()["error"]["message"]
        batch = await client.post(
            hook, content=b'{"n": 1}\n{"n": 2}\n', headers={"Content-Type": "application/x-ndjson"}
        )
        assert batch.status_code == 503, batch.text
        assert len(await waiting(service.database)) == 2
        listed = (await client.get("/runs")).json()["items"]
        assert len(listed) == 2  # the refused deliveries left no run behind
    await state.relay.close()


class FlakyTemporal:
    """A Temporal client whose first ``failures`` starts fail as if the server were down."""

    def __init__(self, client: Client, failures: int) -> None:
        self._client = client
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
        return await self._client.start_workflow(*args, **kwargs)


async def test_runs_accepted_while_temporal_is_down_start_when_it_is_back(
    service: ServiceState, api: httpx.AsyncClient
) -> None:
    flaky = FlakyTemporal(service.temporal, failures=2)
    state = state_of(service, temporal=flaky)
    async with await client_of(state) as client:
        hook = path_of((await commit(client, DOUBLE, "double"))["webhook_url"])
        accepted = await client.post(hook, json={"n": 5})
        assert accepted.status_code == 202, accepted.text
        execution_id = accepted.json()["execution_id"]
        detail = await eventually(lambda: ended(api, execution_id))
    await state.relay.close()
    assert detail["status"] == "succeeded" and detail["result"] == 10
    assert flaky.failures == 0
    assert await waiting(service.database) == []


async def test_a_run_whose_workflow_was_deleted_before_its_start_fails_clearly(
    dead: tuple[ServiceState, httpx.AsyncClient], service: ServiceState, api: httpx.AsyncClient
) -> None:
    _, first = dead
    hook = path_of((await commit(first, DOUBLE, "double"))["webhook_url"])
    execution_id = (await first.post(hook, json={"n": 1})).json()["execution_id"]
    assert (await api.delete("/workflows/double")).status_code in (200, 204)
    launcher._RUNNABLES.clear()  # another process: it has not parsed that version
    await asyncio.sleep(0.4)
    assert await service.relay.sweep() == 1
    detail = await eventually(lambda: _listed(api, execution_id))
    assert detail["status"] == "failed"
    assert "could not start" in detail["error"], detail
    assert await waiting(service.database) == []


async def _listed(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any] | None:
    items = (await api.get("/runs")).json()["items"]
    found = [run for run in items if run["execution_id"] == execution_id]
    return found[0] if found and found[0]["status"] == "failed" else None
