"""Schedules end to end: committed triggers become Temporal Schedules whose runs show in the API."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from typer.testing import CliRunner

from keel.api.app import create_app
from keel.api.server import ApiServer
from keel.api.state import ServiceState
from keel.cli.main import app as cli
from tests.e2e.conftest import commit, eventually
from tests.integration.store.conftest import BACKENDS

pytestmark = pytest.mark.integration

TICK = """\
title: Tick
description: echoes its schedule's inputs
entrypoint:
  expects:
    region: {type: str}
    n: {type: int, default: 1}
triggers:
  - type: schedule
    ref: tick
    args: {every: 1s, inputs: {region: eu}}
actions:
  - ref: echo
    action: core.transform.reshape
    args: {value: "${{ TRIGGER }}"}
returns: ${{ ACTIONS.echo.result }}
"""

HOURLY = TICK.replace(
    "{every: 1s, inputs: {region: eu}}", "{every: 1h, paused: true, inputs: {region: us}}"
)
NO_TRIGGER = TICK[: TICK.index("triggers:")] + TICK[TICK.index("actions:") :]


async def test_schedule_fires_pauses_and_resumes(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    workflow_id = (await commit(api, TICK, "tick"))["id"]
    (schedule,) = (await api.get("/schedules")).json()
    assert schedule["temporal_id"] == f"sched-{workflow_id}-tick"
    assert schedule["inputs"] == {"region": "eu", "n": 1} and not schedule["paused"]

    runs = await eventually(lambda: _schedule_runs(api, "tick"))
    detail = await eventually(lambda: _ended(api, runs[-1]["execution_id"]))
    assert detail["status"] == "succeeded"
    assert detail["actions"][0]["result"] == {"region": "eu", "n": 1}
    assert runs[-1]["version"] == 1

    paused = await api.post(f"/schedules/{schedule['id']}/pause", json={"note": "maintenance"})
    assert paused.status_code == 200 and paused.json()["paused"], paused.text
    handle = temporal_client.get_schedule_handle(schedule["temporal_id"])
    described = await handle.describe()
    assert described.schedule.state.paused
    count = described.info.num_actions
    await asyncio.sleep(2.2)
    assert (await handle.describe()).info.num_actions == count

    resumed = await api.post(f"/schedules/{schedule['temporal_id']}/resume")
    assert resumed.status_code == 200 and not resumed.json()["paused"]
    assert not (await handle.describe()).schedule.state.paused
    shown = (await api.get(f"/schedules/{schedule['id']}")).json()
    assert shown["runs_started"] >= 1 and shown["next_runs"]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_backfill_trigger_patch_and_removal(
    api: httpx.AsyncClient, service: ServiceState, temporal_client: Client
) -> None:
    await commit(api, HOURLY, "hourly")
    (schedule,) = (await api.get("/schedules", params={"workflow": "hourly"})).json()
    assert schedule["paused"]
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    body = {"start": (now - timedelta(hours=3)).isoformat(), "end": now.isoformat()}
    answer = await api.post(f"/schedules/{schedule['id']}/backfill", json=body)
    assert answer.status_code == 202, answer.text
    runs = await eventually(lambda: _schedule_runs(api, "hourly", at_least=3))
    assert len(runs) == 3
    reversed_range = {"start": body["end"], "end": body["start"]}
    assert (
        await api.post(f"/schedules/{schedule['id']}/backfill", json=reversed_range)
    ).status_code == 422

    assert (await api.post(f"/schedules/{schedule['id']}/trigger")).status_code == 202
    await eventually(lambda: _schedule_runs(api, "hourly", at_least=4))

    patched = await api.patch(
        f"/schedules/{schedule['id']}", json={"every": "2h", "inputs": {"region": "ap"}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["args"]["every"] == "2h" and patched.json()["paused"]
    handle = temporal_client.get_schedule_handle(schedule["temporal_id"])
    spec = (await handle.describe()).schedule.spec
    assert spec.intervals[0].every == timedelta(hours=2)
    bad = await api.patch(f"/schedules/{schedule['id']}", json={"cron": "61 * * * *"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "args.cron"

    listed = await _cli(service, api, ["schedules", "list", "--json"])
    assert [row["id"] for row in listed] == [schedule["id"]]
    resumed = await _cli(service, api, ["schedules", "resume", schedule["id"], "--json"])
    assert resumed["paused"] is False

    await commit(api, NO_TRIGGER, "hourly")
    assert (await api.get("/schedules")).json() == []
    with pytest.raises(RPCError) as gone:
        await handle.describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_each_firing_reads_the_variables_as_they_are_then(api: httpx.AsyncClient) -> None:
    document = HOURLY.replace("${{ TRIGGER }}", "${{ VARS.slack.channel }}").replace(
        "title: Tick", "title: Tick\nconfig: {environment: prod}"
    )
    channel = {"name": "slack", "values": {"channel": "#soc"}}
    assert (await api.post("/variables?environment=prod", json=channel)).status_code == 201
    await commit(api, document, "notify")
    (schedule,) = (await api.get("/schedules", params={"workflow": "notify"})).json()

    assert (await api.post(f"/schedules/{schedule['id']}/trigger")).status_code == 202
    (first,) = await eventually(lambda: _schedule_runs(api, "notify"))
    detail = await eventually(lambda: _ended(api, first["execution_id"]))
    assert detail["status"] == "succeeded" and detail["actions"][0]["result"] == "#soc"

    # Changed after the schedule was committed: the next firing must see the new value.
    changed = {"values": {"channel": "#incidents"}}
    answer = await api.put("/variables/slack?environment=prod", json=changed)
    assert answer.status_code == 200, answer.text
    # Temporal names a scheduled run after its schedule and the second it fires: a trigger in
    # the same second as the last one would be that run again.
    await asyncio.sleep(1.1)
    assert (await api.post(f"/schedules/{schedule['id']}/trigger")).status_code == 202
    runs = await eventually(lambda: _schedule_runs(api, "notify", at_least=2))
    latest = next(r for r in runs if r["execution_id"] != first["execution_id"])
    detail = await eventually(lambda: _ended(api, latest["execution_id"]))
    assert detail["status"] == "succeeded" and detail["actions"][0]["result"] == "#incidents"


async def test_deleting_the_workflow_deletes_its_schedules(
    api: httpx.AsyncClient, temporal_client: Client
) -> None:
    await commit(api, HOURLY, "doomed")
    (schedule,) = (await api.get("/schedules")).json()
    assert (await api.delete("/workflows/doomed")).status_code == 204
    assert (await api.get("/schedules")).json() == []
    with pytest.raises(RPCError):
        await temporal_client.get_schedule_handle(schedule["temporal_id"]).describe()


async def test_invalid_schedule_args_refuse_the_commit(api: httpx.AsyncClient) -> None:
    document = TICK.replace(
        "{every: 1s, inputs: {region: eu}}", "{cron: '0 25 * * *', inputs: {n: x}}"
    )
    await api.post("/workflows", json={"yaml": document, "alias": "bad"})
    refused = await api.post("/workflows/bad/commit")
    assert refused.status_code == 422, refused.text
    problems = refused.json()["error"]["problems"]
    assert {p["field"] for p in problems} == {"triggers[0].args.cron"}
    assert all(
        p["line"]
        == document.splitlines().index("    args: {cron: '0 25 * * *', inputs: {n: x}}") + 1
        for p in problems
    )
    assert (await api.get("/schedules")).json() == []


async def _schedule_runs(
    api: httpx.AsyncClient, workflow: str, at_least: int = 1
) -> list[dict[str, Any]] | None:
    items = (await api.get("/runs", params={"workflow": workflow})).json()["items"]
    runs = [r for r in items if r["trigger_type"] == "schedule"]
    return runs if len(runs) >= at_least else None


async def _ended(api: httpx.AsyncClient, execution_id: str) -> dict[str, Any] | None:
    detail: dict[str, Any] = (await api.get(f"/runs/{execution_id}")).json()
    return None if detail.get("status") == "running" else detail


async def _cli(service: ServiceState, api: httpx.AsyncClient, args: list[str]) -> Any:
    """Run a ``keel`` command against the app served on a real port; return its JSON output."""
    key = api.headers["Authorization"].removeprefix("Bearer ")
    async with ApiServer(create_app(service), "127.0.0.1", 0) as server:
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, [*args, "--url", server.url, "--api-key", key]
        )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
