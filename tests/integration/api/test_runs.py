"""Runs through the API: listing with filters and pages, cancel, terminate, rerun, secrets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.client import Client

from tests.integration.api.flows import FAILING, FIXED, SLOW, committed, finished, start

pytestmark = pytest.mark.integration


async def test_list_filters_and_pages(api: httpx.AsyncClient) -> None:
    before = datetime.now(UTC).isoformat()
    await committed(api, FIXED, "doubler")
    await committed(api, FAILING, "divider")
    ok = [await start(api, "doubler", {"n": i}) for i in range(3)]
    bad = await start(api, "divider", {"d": 0})
    for execution_id in [*ok, bad]:
        await finished(api, execution_id)

    everything = (await api.get("/runs")).json()
    assert [r["execution_id"] for r in everything["items"]] == [bad, *reversed(ok)]
    assert everything["next_cursor"] is None

    failed = (await api.get("/runs", params={"status": "failed"})).json()["items"]
    assert [r["execution_id"] for r in failed] == [bad]
    assert "10 // d" in failed[0]["error"] or "ZeroDivisionError" in failed[0]["error"]
    by_alias = (await api.get("/runs", params={"workflow": "doubler"})).json()["items"]
    assert {r["execution_id"] for r in by_alias} == set(ok)
    assert all(r["status"] == "succeeded" and r["ended_at"] for r in by_alias)
    none_after = await api.get("/runs", params={"started_after": "2999-01-01T00:00:00"})
    assert none_after.json()["items"] == []
    since = await api.get(
        "/runs", params={"started_after": before, "started_before": "2999-01-01T00:00:00Z"}
    )
    assert len(since.json()["items"]) == 4

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/runs", params=params)).json()
        seen += [r["execution_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [bad, *reversed(ok)]


async def test_terminate_and_cancel(api: httpx.AsyncClient) -> None:
    await committed(api, SLOW, "slow")
    first = await start(api, "slow")
    second = await start(api, "slow")

    terminated = await api.post(f"/runs/{first}/terminate")
    assert terminated.status_code == 200 and terminated.json()["status"] == "terminated"
    assert (await api.get(f"/runs/{first}")).json()["status"] == "terminated"
    again = await api.post(f"/runs/{first}/terminate")
    assert again.status_code == 409 and "terminated" in again.json()["error"]["message"]

    cancelled = await api.post(f"/runs/{second}/cancel")
    assert cancelled.status_code == 202
    detail = await finished(api, second)
    assert detail["status"] == "cancelled"
    listed = (await api.get("/runs", params={"workflow": "slow"})).json()["items"]
    assert {r["execution_id"]: r["status"] for r in listed} == {
        first: "terminated",
        second: "cancelled",
    }


async def test_rerun_from_the_failed_action(api: httpx.AsyncClient) -> None:
    await committed(api, FIXED, "fine")
    succeeded = await start(api, "fine", {"n": 1})
    await finished(api, succeeded)
    refused = await api.post(f"/runs/{succeeded}/rerun")
    assert refused.status_code == 409 and "only a failed run" in refused.json()["error"]["message"]

    await committed(api, FAILING, "fails")
    failed = await start(api, "fails", {"d": 0})
    detail = await finished(api, failed)
    assert detail["status"] == "failed" and "ZeroDivisionError" in detail["error"]
    by_ref = {a["ref"]: a for a in detail["actions"]}
    assert by_ref["divide"]["status"] == "failed" and by_ref["start"]["result"] == 10

    rerun = await api.post(f"/runs/{failed}/rerun")
    assert rerun.status_code == 202, rerun.text
    assert rerun.json()["rerun_of"] == failed
    again = await finished(api, rerun.json()["execution_id"])
    assert again["status"] == "failed"  # same trigger, same failure, but from the failed action
    start_action = {a["ref"]: a for a in again["actions"]}["start"]
    assert any("reused" in e for e in start_action["events"])


async def test_events_timeline(api: httpx.AsyncClient) -> None:
    await committed(api, FIXED, "timeline")
    execution_id = await start(api, "timeline", {"n": 1})
    await finished(api, execution_id)
    events = (await api.get(f"/runs/{execution_id}/events")).json()
    assert events[0]["kind"] == "workflow_execution_started"
    assert events[-1]["kind"] == "workflow_execution_completed"


SECRET_FLOW = """\
title: Uses a secret
description: reads SECRETS.intel.api_key
actions:
  - ref: token
    action: core.transform.apply
    args: {value: "${{ SECRETS.intel.api_key }}", python_lambda: "lambda k: 'Bearer ' + k"}
    mask_output: true
  - ref: length
    action: core.transform.apply
    depends_on: [token]
    args: {value: "${{ ACTIONS.token.result }}", python_lambda: "lambda t: len(t)"}
returns: ${{ ACTIONS.length.result }}
"""


async def test_secrets_come_from_the_store_and_stay_out_of_history(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    value = "s3cr3t-value-7f3a"
    made = await api.post("/secrets", json={"name": "intel", "values": {"api_key": value}})
    assert made.status_code == 201 and made.json()["keys"] == ["api_key"]
    assert value not in made.text
    listed = await api.get("/secrets", params={"environment": "default"})
    assert [s["name"] for s in listed.json()] == ["intel"] and value not in listed.text

    await committed(api, SECRET_FLOW, "secretive")
    execution_id = await start(api, "secretive")
    detail = await finished(api, execution_id)
    assert detail["status"] == "succeeded", detail["error"]
    by_ref = {a["ref"]: a for a in detail["actions"]}
    assert by_ref["token"]["result"] == "***"
    # The secret never leaves the activity that read it, results included: the next action
    # gets the result with the value redacted (actions that need a secret read SECRETS).
    assert by_ref["length"]["result"] == len("Bearer [REDACTED]")
    history = await temporal_client.get_workflow_handle(execution_id).fetch_history()
    # Binary protobuf: payloads are raw bytes there (the JSON form base64-encodes them).
    assert value.encode() not in b"".join(e.SerializeToString() for e in history.events)

    duplicate = await api.post("/secrets", json={"name": "intel", "values": {"api_key": "x"}})
    assert duplicate.status_code == 409
    assert (await api.put("/secrets/intel", json={"values": {"other": "y"}})).json()["keys"] == [
        "other"
    ]
    assert (await api.delete("/secrets/intel")).status_code == 204
    assert (await api.delete("/secrets/intel")).status_code == 404
    missing = await finished(api, await start(api, "secretive"))
    assert missing["status"] == "failed" and "intel" in missing["error"]


async def test_variables_crud(api: httpx.AsyncClient) -> None:
    made = await api.post(
        "/variables?environment=prod", json={"name": "slack", "values": {"channel": "#sec"}}
    )
    assert made.status_code == 201
    assert (await api.get("/variables/slack", params={"environment": "prod"})).json()["values"] == {
        "channel": "#sec"
    }
    assert (await api.get("/variables/slack")).status_code == 404
    await api.put("/variables/slack?environment=prod", json={"values": {"channel": "#ops"}})
    listed = (await api.get("/variables")).json()
    assert [(v["environment"], v["values"]) for v in listed] == [("prod", {"channel": "#ops"})]
    assert (await api.delete("/variables/slack?environment=prod")).status_code == 204


async def test_concurrent_listing_while_runs_start(api: httpx.AsyncClient) -> None:
    await committed(api, FIXED, "busy")
    started = await asyncio.gather(*(start(api, "busy", {"n": i}) for i in range(4)))
    for execution_id in started:
        await finished(api, execution_id)
    statuses = {r["status"] for r in (await api.get("/runs")).json()["items"]}
    assert statuses == {"succeeded"}
